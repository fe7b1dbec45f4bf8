// wsdoor protocol constants (seed 003, DESIGN "Protocol facts").

/** `code` values. The seed sends them as strings; numbers are accepted and read as these. */
export const Code = {
  ok: '200',
  failure: '500',
  userList: '203',
  compare: '204',
  register: '205',
  heartbeat: '206',
  /** A device's event upload, and (seed 4.2) a query command's answer. */
  realtimeEvent: '207',
  eventQuery: '208',
} as const;

/** Answers that mean the command worked; 500 and anything else is the device's failure. */
export const SUCCESS_CODES: ReadonlySet<string> = new Set([
  Code.ok,
  Code.userList,
  Code.compare,
  Code.realtimeEvent,
  Code.eventQuery,
]);

/** Device uploads by code, named as on MQTT (`event/realtimeEvent`). */
export const UPLOADS = {
  [Code.register]: 'register',
  [Code.heartbeat]: 'heartbeat',
  [Code.realtimeEvent]: 'realtimeEvent',
} as const;

export type UploadName = (typeof UPLOADS)[keyof typeof UPLOADS];

export const COMMANDS = ['addUser', 'deleteUser', 'editUser', 'selectUser', 'compareUser', 'queryEvent'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** The gateway's answers to uploads all carry `command: "response"`. */
export const RESPONSE = 'response';

/** Register fields kept for the retained `info` topic. */
export const INFO_FIELDS = ['ip', 'mac', 'sn', 'type'] as const;

/** Where the snapshot sits in a realtimeEvent's `data` and in a queryEvent answer's `content`. */
export const IMAGE_PATH = 'data.img';
