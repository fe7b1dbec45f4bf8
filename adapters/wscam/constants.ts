// wscam protocol constants (seed 004, DESIGN "Protocol facts").

export const Operate = {
  heartbeat: 'heartbeat',
  uploadSnapshot: 'upload_snapshot',
  getDevConfig: 'get_dev_config',
  setDevConfig: 'set_dev_config',
  upgradeDev: 'upgrade_dev',
  controlCmd: 'control_cmd',
} as const;

/** An answer's operate is its request's plus this. */
export const RSP_SUFFIX = '_rsp';

export const UPLOADS = [Operate.heartbeat, Operate.uploadSnapshot] as const;
export const COMMANDS = [Operate.getDevConfig, Operate.setDevConfig, Operate.upgradeDev, Operate.controlCmd] as const;
export type CommandName = (typeof COMMANDS)[number];
export const CONTROL_TYPES = ['take_snapshot', 'io_control'] as const;

/** Fields around a message's parameters; what is left is the event's or command's `data`. */
export const ENVELOPE_KEYS: readonly string[] = ['operate', 'request_id', 'timestamp', 'sn'];
/** Fields around an answer's results. */
export const ANSWER_KEYS: readonly string[] = [...ENVELOPE_KEYS, 'ret', 'msg'];

/** `ret` values. The seed defines only 0; the refusals are the gateway's own, documented in
 *  docs/wscam.md, and -1 is DESIGN's "could not hand over, send again". */
export const Ret = {
  ok: 0,
  failure: -1,
  badRequest: 1,
  clockSkew: 2,
  snMismatch: 3,
  notAllowed: 4,
  unsupported: 5,
} as const;

/** hb_interval bounds (seconds). The seed gives 15-360, yet its own set_dev_config example sets 10
 *  and is answered ret 0, so shorter intervals are passed on for the camera to judge. */
export const HB_INTERVAL_MIN = 1;
export const HB_INTERVAL_MAX = 360;

/** Field holding the base64 JPEG, in upload_snapshot and in a take_snapshot answer's cmd_data. */
export const IMAGE_FIELD = 'data';
