// Writes deploy/grafana/switchboard.json: the Grafana dashboard over Switchboard's Prometheus metrics.
// The panels are declared here (one line each) rather than edited in Grafana's verbose JSON;
// run `npm run grafana` after changing them. test/observability/grafana.test.ts checks that every
// metric a query names exists in a real server's /metrics.
import { writeFileSync } from 'node:fs';

const DS = { type: 'prometheus', uid: '${datasource}' };
/** Every query is scoped to the selected instances (one per node) of the selected job. */
const SEL = 'job=~"$job", instance=~"$instance"';

let nextId = 1;
let y = 0;
const panels = [];

function row(title) {
  panels.push({ type: 'row', title, id: nextId++, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
  y += 1;
}

/** A row of panels of equal width; each is [type, title, unit, description, [expr, legend]...]. */
function line(height, ...defs) {
  const w = Math.floor(24 / defs.length);
  defs.forEach(([type, title, unit, description, ...targets], i) => {
    const p = {
      type,
      title,
      description,
      id: nextId++,
      datasource: DS,
      gridPos: { h: height, w, x: i * w, y },
      fieldConfig: { defaults: { unit, ...(type === 'timeseries' ? { custom: { lineWidth: 1, fillOpacity: 10, showPoints: 'never' } } : {}) }, overrides: [] },
      options: type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto' } : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
      targets: targets.map(([expr, legendFormat], j) => ({ datasource: DS, expr, legendFormat, refId: String.fromCharCode(65 + j), ...(type === 'stat' ? { instant: true } : {}) })),
    };
    panels.push(p);
  });
  y += height;
}

row('Cluster');
line(
  4,
  ['stat', 'Nodes', 'none', 'Switchboard processes Prometheus scrapes (one per node).', [`count(switchboard_build_info{${SEL}})`, 'nodes']],
  ['stat', 'Connections', 'none', 'Open WebSocket connections, all dialects, all nodes.', [`sum(switchboard_connections{${SEL}})`, 'connections']],
  ['stat', 'Sessions', 'none', 'Live sessions (native sessions waiting for a resume included).', [`sum(switchboard_sessions{${SEL}})`, 'sessions']],
  ['stat', 'Rooms (max per node)', 'none', 'Rooms with members on a node; a room spanning nodes counts on each, so the cluster figure is at least the largest node\'s.', [`max(switchboard_rooms{${SEL}})`, 'rooms']],
  ['stat', 'Messages in /s', 'reqps', 'Frames received per second, all nodes.', [`sum(rate(switchboard_frames_in_total{${SEL}}[$__rate_interval]))`, 'in/s']],
  ['stat', 'Backplane down', 'none', 'Nodes that cannot reach the shared store (Redis) right now; 0 is healthy.', [`count(switchboard_backplane_up{${SEL}} == 0) or vector(0)`, 'down']],
);

row('Connections and sessions');
line(
  8,
  ['timeseries', 'Connections by dialect', 'none', 'Open WebSocket connections per dialect, summed over nodes.', [`sum by (dialect) (switchboard_connections{${SEL}})`, '{{dialect}}']],
  ['timeseries', 'Connections per node', 'none', 'Open WebSocket connections on each node: a drain or an unbalanced load balancer shows here.', [`sum by (instance) (switchboard_connections{${SEL}})`, '{{instance}}']],
  ['timeseries', 'Sessions and rooms per node', 'none', 'Live sessions and local rooms per node.', [`sum by (instance) (switchboard_sessions{${SEL}})`, 'sessions {{instance}}'], [`switchboard_rooms{${SEL}}`, 'rooms {{instance}}']],
);

row('Messages');
line(
  8,
  ['timeseries', 'Frames in by dialect and type', 'reqps', 'Frames received per second.', [`sum by (dialect, type) (rate(switchboard_frames_in_total{${SEL}}[$__rate_interval]))`, '{{dialect}} {{type}}']],
  ['timeseries', 'Frames out by dialect', 'reqps', 'Frames sent per second.', [`sum by (dialect) (rate(switchboard_frames_out_total{${SEL}}[$__rate_interval]))`, '{{dialect}}']],
  ['timeseries', 'Relay recipients', 'reqps', 'Recipients of relayed messages per second (a broadcast counts each recipient).', [`sum by (kind) (rate(switchboard_relay_recipients_total{${SEL}}[$__rate_interval]))`, '{{kind}}']],
);
line(
  8,
  ['timeseries', 'Relay latency', 's', 'Time from the hub accepting a relay to handing it to every local recipient (sampled, 1 relay in 16).', [`histogram_quantile(0.5, sum by (le) (rate(switchboard_relay_latency_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p50'], [`histogram_quantile(0.99, sum by (le) (rate(switchboard_relay_latency_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p99']],
  ['timeseries', 'Relay latency p99 per node', 's', 'The 99th percentile per node.', [`histogram_quantile(0.99, sum by (le, instance) (rate(switchboard_relay_latency_seconds_bucket{${SEL}}[$__rate_interval])))`, '{{instance}}']],
  ['timeseries', 'Joins by dialect', 'ops', 'Room joins per second, by dialect (a join storm shows here).', [`sum by (dialect) (rate(switchboard_joins_total{${SEL}}[$__rate_interval]))`, '{{dialect}}']],
  ['timeseries', 'Rooms removed', 'ops', 'Rooms removed by the sweeper per second, by reason (empty past its grace, expired when idle).', [`sum by (reason) (rate(switchboard_rooms_removed_total{${SEL}}[$__rate_interval]))`, '{{reason}}']],
);

row('Errors and closes');
line(
  8,
  ['timeseries', 'Errors by code', 'ops', 'Errors returned to clients per second, by dialect and code (rate-limited, invalid-message, …).', [`sum by (dialect, code) (rate(switchboard_errors_total{${SEL}}[$__rate_interval]))`, '{{dialect}} {{code}}']],
  ['timeseries', 'Server closes by reason', 'ops', 'Connections the server closed per second, by reason (timeout, slow-consumer, policy, shutdown, …).', [`sum by (reason) (rate(switchboard_server_closes_total{${SEL}}[$__rate_interval]))`, '{{reason}}']],
);

row('Backplane (Redis)');
line(
  8,
  ['timeseries', 'Backplane up per node', 'none', '1 while a node reaches the shared store; always 1 in memory.', [`switchboard_backplane_up{${SEL}}`, '{{instance}}']],
  ['timeseries', 'Backplane messages', 'reqps', 'Messages crossing the backplane per second, by direction and channel kind.', [`sum by (direction, kind) (rate(switchboard_backplane_messages_total{${SEL}}[$__rate_interval]))`, '{{direction}} {{kind}}']],
  ['timeseries', 'Backplane latency', 's', 'Publish-to-receive time between nodes (wall clocks of both).', [`histogram_quantile(0.5, sum by (le) (rate(switchboard_backplane_latency_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p50'], [`histogram_quantile(0.99, sum by (le) (rate(switchboard_backplane_latency_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p99']],
);
line(
  8,
  ['timeseries', 'Not handed on', 'ops', 'Publications the backplane could not hand on (store down, or the target node gone); their senders were told `unavailable`.', [`sum by (kind) (rate(switchboard_backplane_dropped_total{${SEL}}[$__rate_interval]))`, '{{kind}}']],
  ['timeseries', 'Reconnects and dead nodes', 'ops', 'Reconnections to the store, and dead nodes whose peers were removed (presence expired).', [`sum(rate(switchboard_backplane_reconnects_total{${SEL}}[$__rate_interval]))`, 'reconnects'], [`sum(rate(switchboard_backplane_presence_expiries_total{${SEL}}[$__rate_interval]))`, 'dead nodes']],
);

row('Webhooks');
line(
  8,
  ['timeseries', 'Webhook deliveries', 'ops', 'Lifecycle events delivered (2xx) and attempts that failed (non-2xx, network error, timeout) per second; the delivering node is the leader.', [`sum(rate(switchboard_webhooks_delivered_total{${SEL}}[$__rate_interval]))`, 'delivered'], [`sum(rate(switchboard_webhooks_attempts_failed_total{${SEL}}[$__rate_interval]))`, 'failed attempts']],
  ['timeseries', 'Webhook events dropped', 'ops', 'Events given up, by reason (queue-full, attempts, gone, store-down, shutdown): each is also logged.', [`sum by (reason) (rate(switchboard_webhooks_dropped_total{${SEL}}[$__rate_interval]))`, '{{reason}}']],
  ['timeseries', 'Webhook queue and latency', 'none', 'Events waiting (each node\'s view), and the p99 of one delivery attempt in seconds.', [`max(switchboard_webhooks_queue{${SEL}})`, 'queued'], [`histogram_quantile(0.99, sum by (le) (rate(switchboard_webhook_delivery_seconds_bucket{${SEL}}[$__rate_interval])))`, 'attempt p99 (s)']],
);

row('Process');
line(
  8,
  ['timeseries', 'Resident memory', 'bytes', 'RSS per node.', [`process_resident_memory_bytes{${SEL}}`, '{{instance}}']],
  ['timeseries', 'CPU', 'percentunit', 'CPU time per second per node (1 = one core).', [`rate(process_cpu_seconds_total{${SEL}}[$__rate_interval])`, '{{instance}}']],
  ['timeseries', 'Event loop lag p99', 's', 'How late timers run: a busy or blocked node shows here first.', [`nodejs_eventloop_lag_p99_seconds{${SEL}}`, '{{instance}}']],
  ['timeseries', 'Open file descriptors', 'none', 'Sockets and files per node, against its limit.', [`process_open_fds{${SEL}}`, 'open {{instance}}'], [`process_max_fds{${SEL}}`, 'max {{instance}}']],
);

const variable = (name, label, query, includeAll) => ({
  name,
  label,
  type: 'query',
  datasource: DS,
  query: { query, refId: name },
  definition: query,
  refresh: 2,
  includeAll,
  multi: includeAll,
  allValue: '.*',
  current: includeAll ? { text: 'All', value: '$__all' } : {},
  sort: 1,
});

const dashboard = {
  __inputs: [{ name: 'DS_PROMETHEUS', label: 'Prometheus', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' }],
  __requires: [
    { type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.0.0' },
    { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
    { type: 'panel', id: 'timeseries', name: 'Time series', version: '' },
    { type: 'panel', id: 'stat', name: 'Stat', version: '' },
  ],
  uid: 'switchboard',
  title: 'Switchboard',
  description: 'WebRTC signaling: connections, sessions, rooms, message rates, relay latency, errors by code, backplane health, per node.',
  tags: ['switchboard', 'webrtc', 'signaling'],
  timezone: '',
  editable: true,
  graphTooltip: 1,
  refresh: '10s',
  schemaVersion: 39,
  version: 1,
  time: { from: 'now-1h', to: 'now' },
  templating: {
    list: [
      { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
      variable('job', 'Job', 'label_values(switchboard_build_info, job)', true),
      variable('instance', 'Node', 'label_values(switchboard_build_info{job=~"$job"}, instance)', true),
    ],
  },
  annotations: { list: [] },
  links: [],
  panels,
};

// An argument writes elsewhere (the test compares a fresh output with the committed file).
const out = process.argv[2] ?? new URL('../deploy/grafana/switchboard.json', import.meta.url);
writeFileSync(out, JSON.stringify(dashboard, null, 2) + '\n');
console.log(`${out}: ${panels.filter((p) => p.type !== 'row').length} panels`);
