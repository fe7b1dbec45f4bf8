// Protocol constants of the ETC gantry monitoring interface (seeds v0.37 and v1.03).

export const UPLOAD_PATH = '/monitor.do';
/** v1.03 §1.4 writes the upload address with a double slash; both reach the same handler. */
export const UPLOAD_PATH_DOUBLE_SLASH = '//monitor.do';
export const CONTROL_PATH = '/remotecontrol.do';
export const DEFAULT_CONTROL_PORT = 3699;

export const HEADER_MD5 = 'binfile-md5';
export const HEADER_AUTH = 'binfile-auth';

/** v0.37 sends 1001; v1.03 documents 1000 and its examples also send 1001. */
export const KNOWN_VERSIONS: readonly string[] = ['1000', '1001'];
/** Sent with commands to a gantry that has not uploaded yet (DESIGN.md "Commands"). */
export const DEFAULT_VERSION = '1001';

export const ENVELOPE_KEYS = ['gantryId', 'method', 'timeStamp', 'version'] as const;

/** §1.8 of both seeds: the values a device puts in a field it could not read. */
export const ERROR_WORDS: readonly string[] = ['NoData', 'GetFailed', 'NotSupport'];

export const UPLOAD_METHODS = ['computerStatusUpdate', 'cabinetStatusUpdate', 'queryAndGetCardInfo'] as const;
export type UploadMethod = (typeof UPLOAD_METHODS)[number];


/** Business codes of §1.7; every answer carries them as strings, as in the seeds' examples. */
export const Code = {
  OK: '1000',
  NO_RIGHT: '1001',
  BAD_PARAMS: '1002',
  CLOCK_SKEW: '1003',
  BAD_SIGNATURE: '1004',
  TOO_FREQUENT: '1005',
  UNKNOWN_VERSION: '1006',
  COMMAND_FAILED: '1007',
  SYSTEM_ERROR: '1008',
  NO_MEDIA: '1009',
} as const;
export type BusinessCode = (typeof Code)[keyof typeof Code];

/** The `msg` of each code, word for word from the seeds (1009 as v0.37 words it). */
export const CODE_MESSAGES: Readonly<Record<BusinessCode, string>> = {
  '1000': '成功',
  '1001': '无权使用该接口',
  '1002': '参数有误',
  '1003': '系统时间偏差太大',
  '1004': '无效的签名',
  '1005': '请求过于频繁',
  '1006': '未知的接口版本号',
  '1007': '执行控制命令失败',
  '1008': '未知系统异常',
  '1009': '无对应图像/视频',
};

