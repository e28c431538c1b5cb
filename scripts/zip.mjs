// A minimal ZIP writer (deflate, no ZIP64, no encryption): enough for the release zip of the
// Windows executable without a new dependency. Format: PKWARE APPNOTE.TXT, sections 4.3.7
// (local file header), 4.3.12 (central directory header) and 4.3.16 (end of central directory).
import { writeFileSync } from 'node:fs';
import { crc32, deflateRawSync } from 'node:zlib';

/** The MS-DOS time and date fields of a Date (2-second resolution, local time, as unzip expects). */
function dosTime(d) {
  const time = (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1);
  const date = ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate();
  return { time, date };
}

/**
 * Writes `entries` ([{ name, data: Buffer }]) to `file` as a ZIP archive, each entry deflated.
 * Sizes past 4 GiB would need ZIP64 and are refused.
 */
export function writeZip(file, entries, mtime = new Date()) {
  if (typeof crc32 !== 'function') throw new Error('writing a zip needs node:zlib crc32 (Node >= 20.15)');
  const { time, date } = dosTime(mtime);
  const parts = [];
  const central = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const packed = deflateRawSync(data, { level: 9 });
    const nameBytes = Buffer.from(name, 'utf8');
    if (data.length >= 0xffffffff || offset + packed.length >= 0xffffffff) throw new Error(`${name}: too large for a zip without ZIP64`);
    const crc = crc32(data);
    // Shared by the local and the central header: version needed 2.0, flag bit 11 (UTF-8 names),
    // method 8 (deflate), time, date, CRC-32, compressed and uncompressed size, name length.
    const common = Buffer.alloc(26);
    common.writeUInt16LE(20, 0);
    common.writeUInt16LE(0x0800, 2);
    common.writeUInt16LE(8, 4);
    common.writeUInt16LE(time, 6);
    common.writeUInt16LE(date, 8);
    common.writeUInt32LE(crc, 10);
    common.writeUInt32LE(packed.length, 14);
    common.writeUInt32LE(data.length, 18);
    common.writeUInt16LE(nameBytes.length, 22);
    common.writeUInt16LE(0, 24); // extra field length
    const local = Buffer.concat([u32(0x04034b50), common, nameBytes]);
    parts.push(local, packed);
    // Central header: signature, version made by (2.0, MS-DOS), the common fields, comment length,
    // disk number, internal and external attributes, the local header's offset.
    const tail = Buffer.alloc(14);
    tail.writeUInt32LE(offset, 10);
    central.push(Buffer.concat([u32(0x02014b50), u16(20), common, tail, nameBytes]));
    offset += local.length + packed.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8); // entries on this disk
  end.writeUInt16LE(entries.length, 10); // entries in total
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(file, Buffer.concat([...parts, directory, end]));
}

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
