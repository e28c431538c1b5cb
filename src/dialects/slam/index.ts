/**
 * slam: the VI-SLAM signaling protocol (seed 001). Two flavours share catch-all paths:
 * `slam` (PC client: register with a client_id into a room, relay by target_id) and `slam-pair`
 * (the Android app: bare offer/answer/ice_candidate paired by path). See docs/dialects/slam.md.
 */
export { slamDialect, detectSlam } from './slam.js';
export { slamPairDialect, detectPair } from './pair.js';
