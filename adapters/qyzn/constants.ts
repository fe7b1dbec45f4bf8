// Every number and name of the QYZN face-terminal protocol V3.7, in one place (seed 002). The
// header layout is DESIGN.md's "Protocol facts"; the rest is the seed's own tables.

/** "QYZN": the first four bytes of every frame. */
export const MAGIC = Buffer.from('QYZN', 'latin1');

/** magic(4) | version u8 | msgType u8 | dataType u8 | resv u8 | timestamp u32 | seq u32 | datasize u32, little-endian. */
export const HEADER_SIZE = 20;

/** Byte offsets inside the header. */
export const Offset = {
  magic: 0,
  version: 4,
  msgType: 5,
  dataType: 6,
  resv: 7,
  timestamp: 8,
  seq: 12,
  datasize: 16,
} as const;

export const MsgType = {
  HEARTBEAT: 1,
  NOTIFICATION: 2,
  REQUEST: 3,
  RESPONSE: 4,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

const MSG_TYPES: ReadonlySet<number> = new Set(Object.values(MsgType));

export function isMsgType(value: number): value is MsgType {
  return MSG_TYPES.has(value);
}

/** The only data type the seed defines ("目前只支持 json 数据"); the 1.4 example carries 1. */
export const DATA_TYPE_JSON = 1;

/** Appended to register and login signs (4.2.2). */
export const SIGN_MAGIC = 'P3K0eikSRSJHliME';

export const U32_MAX = 0xffff_ffff;

/** 3.2: a request unanswered for 20 s is resent with the same seq, three times, then the peer is
 *  considered broken. */
export const RESEND_AFTER_MS = 20_000;
export const MAX_RESENDS = 3;

/** 3.2: heartbeat every 25 s; three missed heartbeats mean the device is gone. */
export const HEARTBEAT_S = 25;
export const MISSED_HEARTBEATS = 3;

// Result codes (section "错误状态码"). `en` goes to devices as `desc` (the seed's examples answer in
// English: "Success", "Unregistered"); `zh` is the seed's own wording.
export const Result = {
  FAILED: -1,
  SUCCESS: 0,
  UNREGISTERED: 100,
  EXISTS: 101,
  NOT_FOUND: 102,
  UNKNOWN_COMMAND: 103,
  INVALID_PARAMETER: 104,
  NO_SUCH_USER: 105,
  WRONG_PASSWORD: 106,
  TIMEOUT: 107,
  ADD_USER_FAILED: 108,
  BUSY: 109,
  NO_FACE_FEATURES: 110,
  INVALID_URL: 200,
  URL_UNREACHABLE: 201,
  DOWNLOAD_FAILED: 202,
} as const;

export interface ResultText {
  en: string;
  zh: string;
}

export const RESULTS: ReadonlyMap<number, ResultText> = new Map([
  [-1, { en: 'Operation failed', zh: '操作异常' }],
  [0, { en: 'Success', zh: '操作成功' }],
  [100, { en: 'Unregistered', zh: '请重新注册' }],
  [101, { en: 'Object already exists', zh: '对象已存在' }],
  [102, { en: 'Object does not exist', zh: '对象不存在' }],
  [103, { en: 'Unknown command', zh: '命令不存在' }],
  [104, { en: 'Invalid parameter', zh: '参数无效' }],
  [105, { en: 'User does not exist', zh: '用户不存在' }],
  [106, { en: 'Wrong password', zh: '密码错误' }],
  [107, { en: 'Timeout', zh: '超时' }],
  [108, { en: 'Adding the user failed', zh: '添加用户失败' }],
  [109, { en: 'System busy, retry after data.waitSeconds', zh: '系统忙，禁止操作' }],
  [110, { en: 'No face features found in the image', zh: '图片提取特征失败' }],
  [200, { en: 'Invalid URL', zh: '无效的 url' }],
  [201, { en: 'URL unreachable', zh: 'url 无法连接' }],
  [202, { en: 'Upgrade file download failed', zh: '升级文件下载失败' }],
]);

/** Codes whose meaning differs for one message (4.7.1 device_call_param). */
const RESULT_OVERRIDES: Readonly<Record<string, ReadonlyMap<number, ResultText>>> = {
  device_call_param: new Map([
    [104, { en: 'Wrong call number', zh: '呼叫编号错误（房号不正确）' }],
    [105, { en: 'Nobody answered', zh: '无人接听' }],
  ]),
};

export function resultText(result: number, message?: string): ResultText | undefined {
  return (message === undefined ? undefined : RESULT_OVERRIDES[message]?.get(result)) ?? RESULTS.get(result);
}

/** The `desc` the gateway sends with a result it chose. */
export function resultDesc(result: number, message?: string): string {
  return resultText(result, message)?.en ?? `Result ${result}`;
}

// Message catalogue: every `message` of the seed, with its direction and section.
export type Direction = 'device_to_platform' | 'platform_to_device';

export interface MessageSpec {
  direction: Direction;
  /** Where the seed defines it. */
  section: string;
}

const up = (section: string): MessageSpec => ({ direction: 'device_to_platform', section });
const down = (section: string): MessageSpec => ({ direction: 'platform_to_device', section });

export const MESSAGES = {
  register: up('4.2.2'),
  login: up('4.2.3'),
  // 3.2 names logout but never defines its body: a REQUEST or NOTIFICATION with any data.
  logout: up('3.2'),
  add_person: down('4.3.1'),
  update_person: down('4.3.2'),
  delete_person: down('4.3.3'),
  clear_person: down('4.3.4'),
  snapshot_picture: down('4.3.5'),
  sync_person: down('4.3.6'),
  device_sync_person: up('4.3.7'),
  add_person_face: down('4.3.8'),
  add_face: down('4.4.1'),
  delete_face: down('4.4.2'),
  device_restart: down('4.5.1'),
  device_upgrade: down('4.5.2'),
  serial_output: down('4.5.3'),
  weigand_output: down('4.5.4'),
  record_clear: down('4.5.5'),
  open_door: down('4.5.6'),
  // 4.5.7 heads the message "online_openDoor" but its example sends "online_open_door"; the example
  // is what a device parses. mappings/qyzn aliases the other spelling.
  online_open_door: down('4.5.7'),
  swiping_card: down('4.5.8'),
  config_device_pass_rule: down('4.5.9'),
  get_configs: down('4.5.10'),
  config_system: down('4.5.10'),
  reSend_record_set: down('4.5.11'),
  snapshot_face: up('4.6.1'),
  sync_time: up('4.6.2'),
  qrcode_data: up('4.6.3'),
  device_call_param: up('4.7.1'),
  device_call_result: up('4.7.2'),
} as const satisfies Record<string, MessageSpec>;

export type MessageName = keyof typeof MESSAGES;

export function isMessageName(name: string): name is MessageName {
  return Object.hasOwn(MESSAGES, name);
}

export function messagesTowards(direction: Direction): MessageName[] {
  return Object.keys(MESSAGES)
    .filter(isMessageName)
    .filter((name) => MESSAGES[name].direction === direction);
}

/** Configuration groups of get_configs (4.5.10.x); config_system sets all but the read-only ones. */
export const CONFIG_GROUPS = [
  'version',
  'netinfo',
  'time',
  'ledctl',
  'serial',
  'audioctl',
  'weigand',
  'vaparam',
  'switchCtrl',
  'VoiceTips',
  'ProductNameSet',
  'OpenDoorModeSet',
  'StrangerParam',
  'HttpPush',
  'system_reboot',
  'VerifyRetRspSet',
  'ForbidIdCardSet',
] as const;
export type ConfigGroup = (typeof CONFIG_GROUPS)[number];

export const READ_ONLY_GROUPS: readonly ConfigGroup[] = ['version', 'netinfo'];
