import { PEERS_DEFAULT_LIMIT, PEERS_MAX_LIMIT, ROOM_DIALECTS } from './views.js';

/**
 * The OpenAPI 3.1 document of the admin API, written out by hand: it is the contract the dashboard
 * and operators' scripts are written against (test/admin/api.test.ts checks it against the routes).
 */
export function openApiDocument(version: string): Record<string, unknown> {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const jsonBody = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
  const err = (description: string) => jsonBody(ref('Error'), description);
  const common = {
    '401': { ...err('No credentials, or wrong ones (admin.token, or a JWT when auth is on).'), headers: { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer realm="switchboard-admin"' } } } },
    '403': err('A valid JWT without the `admin` permission; or, with no admin.token and no auth, a client that is not on loopback (or came through a proxy).'),
    '503': err('The shared store (Redis) is unreachable.'),
  };
  const dialect = { name: 'dialect', in: 'path', required: true, description: "The room's namespace: the dialect that made it.", schema: { type: 'string', enum: [...ROOM_DIALECTS] } };
  const room = { name: 'room', in: 'path', required: true, description: 'The room name, percent-encoded (slam-pair room names are paths: `%2Fsignaling`).', schema: { type: 'string' } };
  const integer = { type: 'integer' };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard admin API',
      version,
      description:
        'Cluster-wide views and actions: any node answers for every node. Every request needs `Authorization: Bearer <admin.token>` (or a JWT with the `admin` permission when auth is on); with neither configured, only loopback clients are answered. Responses are never cached. See docs/operations.md, "Admin API".',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths: {
      '/admin/v1/nodes': {
        get: {
          summary: 'Every live node of the cluster (this one alone without Redis).',
          responses: { '200': jsonBody({ type: 'object', required: ['nodes'], properties: { nodes: { type: 'array', items: ref('Node') } } }, 'The live nodes.'), ...common },
        },
      },
      '/admin/v1/rooms': {
        get: {
          summary: 'Every room, cluster-wide.',
          parameters: [{ name: 'dialect', in: 'query', required: false, schema: { type: 'string', enum: [...ROOM_DIALECTS] } }],
          responses: {
            '200': jsonBody({ type: 'object', required: ['rooms'], properties: { rooms: { type: 'array', items: ref('RoomSummary') } } }, 'The rooms, sorted by dialect and name.'),
            '400': err('An unknown dialect.'),
            ...common,
          },
        },
      },
      '/admin/v1/rooms/{dialect}/{room}': {
        parameters: [dialect, room],
        get: {
          summary: 'One room with its members.',
          responses: { '200': jsonBody(ref('RoomDetail'), 'The room.'), '404': err('No such room.'), ...common },
        },
        delete: {
          summary: 'Closes a room: every member is removed (kicked), each hearing it in its own dialect; the empty room then goes after its empty-room grace.',
          responses: {
            '200': jsonBody({ type: 'object', required: ['dialect', 'room', 'removed'], properties: { dialect: { type: 'string' }, room: { type: 'string' }, removed: integer } }, 'The members removed.'),
            '404': err('No such room.'),
            ...common,
          },
        },
      },
      '/admin/v1/peers': {
        get: {
          summary: 'Every live session, cluster-wide (every node is asked over the backplane), sorted by dialect, then peer id.',
          parameters: [
            { name: 'dialect', in: 'query', required: false, description: 'Only sessions of this dialect (native, vc, slam, slam-pair, call, mesh, flyx, flyx-cli, and any other the server speaks).', schema: { type: 'string' } },
            { name: 'node', in: 'query', required: false, description: 'Only sessions held by this node (an id from /admin/v1/nodes).', schema: { type: 'string', maxLength: 256 } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: PEERS_MAX_LIMIT, default: PEERS_DEFAULT_LIMIT } },
          ],
          responses: {
            '200': jsonBody(
              {
                type: 'object',
                required: ['peers', 'total', 'truncated'],
                properties: {
                  peers: { type: 'array', maxItems: PEERS_MAX_LIMIT, items: ref('Peer') },
                  total: { ...integer, description: 'Sessions matching, on the nodes that answered.' },
                  truncated: { type: 'boolean', description: 'More matched than `limit`: the rest are left out.' },
                  unanswered: { type: 'array', items: { type: 'string' }, description: 'Nodes that did not answer in time: their sessions are missing.' },
                },
              },
              'The sessions.',
            ),
            '400': err('An unknown dialect, a node id that is empty or too long, or a limit out of range.'),
            '404': err('No live node with that id.'),
            ...common,
          },
        },
      },
      '/admin/v1/peers/{peerId}': {
        parameters: [{ name: 'peerId', in: 'path', required: true, schema: { type: 'string', maxLength: 256 } }],
        delete: {
          summary: "Disconnects a peer on whichever node holds it: its dialect's `kicked` close (native 4003), and its session ends (no resume).",
          responses: {
            '200': jsonBody({ type: 'object', required: ['peerId', 'node'], properties: { peerId: { type: 'string' }, node: { type: 'string' } } }, 'Disconnected; `node` held it.'),
            '400': err('A peer id that is empty or too long.'),
            '404': jsonBody({ allOf: [ref('Error'), { type: 'object', properties: { unanswered: { type: 'array', items: { type: 'string' }, description: 'Nodes that did not answer in time.' } } }] }, 'No node holds that peer.'),
            ...common,
          },
        },
      },
      '/admin/v1/events': {
        get: {
          summary: 'The live feed (Server-Sent Events): `snapshot` at once and every second, `log` per log line, `: ping` every 15 s.',
          parameters: [{ name: 'logs', in: 'query', required: false, description: '0: no log events.', schema: { type: 'string', enum: ['0', '1'] } }],
          responses: {
            '200': {
              description: 'An event stream: `event: snapshot` (data: Snapshot; the first also has `history`) and `event: log` (data: LogLine). It ends when the server drains; reconnect.',
              content: { 'text/event-stream': { schema: { type: 'string' }, 'x-events': { snapshot: ref('Snapshot'), log: ref('LogLine') } } },
            },
            '400': err('A `logs` value other than 0 or 1.'),
            ...common,
          },
        },
      },
      '/admin/v1/openapi.json': {
        get: { summary: 'This document.', responses: { '200': jsonBody({ type: 'object' }, 'The OpenAPI document.'), ...common } },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'admin.token, or a JWT with the `admin` permission (auth on).' } },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
        Node: {
          type: 'object',
          required: ['id', 'self', 'state'],
          description: 'A node that has not written its status yet shows only id, self and state "unknown".',
          properties: {
            id: { type: 'string' },
            self: { type: 'boolean', description: 'The node that answered.' },
            version: { type: 'string' },
            state: { type: 'string', description: 'idle, starting, ready, draining, stopped (unknown: no status yet).' },
            startedAt: { type: ['integer', 'null'], description: 'ms since the epoch' },
            uptimeMs: integer,
            connections: integer,
            connectionsByDialect: { type: 'object', additionalProperties: integer },
            sessions: integer,
            rooms: { ...integer, description: 'Rooms with a member on this node.' },
            framesIn: { ...integer, description: 'Frames received since start.' },
            joins: { ...integer, description: 'Room joins since start.' },
            rssBytes: integer,
            pid: integer,
            hostname: { type: 'string' },
            ts: { ...integer, description: 'When the status was taken (ms since the epoch).' },
            logsDropped: { ...integer, description: 'Log lines not published to the cluster log stream (over 200/s).' },
          },
        },
        RoomSummary: {
          type: 'object',
          required: ['dialect', 'room', 'members', 'createdAt', 'lastActivity', 'nodes'],
          properties: { dialect: { type: 'string' }, room: { type: 'string' }, members: integer, createdAt: integer, lastActivity: integer, nodes: { type: 'array', items: { type: 'string' } } },
        },
        Member: {
          type: 'object',
          required: ['peerId', 'node', 'joinedAt'],
          properties: { peerId: { type: 'string' }, name: { type: 'string' }, identity: { type: 'string', description: 'The verified token subject, when it has one.' }, node: { type: 'string' }, joinedAt: integer },
        },
        Peer: {
          type: 'object',
          required: ['peerId', 'dialect', 'node', 'rooms', 'aliases', 'connectedAt', 'lastSeen', 'resumable', 'attached'],
          properties: {
            peerId: { type: 'string' },
            dialect: { type: 'string' },
            node: { type: 'string', description: 'The node holding the session.' },
            rooms: { type: 'array', items: { type: 'string' }, description: 'Its rooms (names within its dialect), sorted.' },
            aliases: { type: 'array', items: { type: 'string' }, description: 'Identities it holds in its dialect (a username, a client id, a PeerJS id), sorted.' },
            name: { type: 'string' },
            identity: { type: 'string', description: 'The verified token subject, when it has one.' },
            connectedAt: { ...integer, description: 'When it opened on its node (ms since the epoch); resumed from another node: when it arrived.' },
            lastSeen: { ...integer, description: 'Its last sign of life (ms since the epoch).' },
            resumable: { type: 'boolean', description: 'It can be resumed on a new socket.' },
            attached: { type: 'boolean', description: 'False while a resumable session waits for its client (no socket).' },
          },
        },
        RoomDetail: {
          type: 'object',
          required: ['dialect', 'room', 'createdAt', 'lastActivity', 'options', 'members'],
          properties: {
            dialect: { type: 'string' },
            room: { type: 'string' },
            createdAt: integer,
            lastActivity: integer,
            options: { type: 'object', properties: { capacity: integer, emptyTtlMs: integer, idleTtlMs: integer } },
            members: { type: 'array', items: ref('Member') },
          },
        },
        Rates: { type: 'object', required: ['messagesPerSecond', 'joinsPerSecond'], properties: { messagesPerSecond: { type: 'number' }, joinsPerSecond: { type: 'number' } } },
        Snapshot: {
          type: 'object',
          required: ['ts', 'nodes', 'rooms', 'totals', 'rates'],
          properties: {
            ts: integer,
            nodes: { type: 'array', items: ref('Node') },
            rooms: { type: 'array', maxItems: 200, items: ref('RoomDetail') },
            truncated: { type: 'boolean', const: true, description: 'More than 200 rooms: the rest are left out.' },
            totals: {
              type: 'object',
              properties: { connections: integer, connectionsByDialect: { type: 'object', additionalProperties: integer }, rooms: integer, peers: { ...integer, description: 'Live sessions, cluster-wide.' } },
            },
            rates: ref('Rates'),
            history: {
              type: 'array',
              description: 'First snapshot only: the last 10 minutes, one point per 5 s.',
              items: { allOf: [ref('Rates'), { type: 'object', properties: { ts: integer, connections: integer } }] },
            },
          },
        },
        LogLine: {
          type: 'object',
          required: ['node'],
          description: 'A pino log object (level, time, msg and its bindings) plus the node that logged it.',
          properties: { node: { type: 'string' }, level: integer, time: { type: 'string' }, msg: { type: 'string' } },
          additionalProperties: true,
        },
      },
    },
  };
}
