// Every example message of seed 004, as the seed prints it. The cmd_data examples of control_cmd
// carry trailing commas in the seed (`{"type": "take_snapshot",}`); they are transcribed without.

/** Camera to gateway, and the gateway's answers. */
export const uploads = {
  heartbeat: `{
    "operate": "heartbeat",
    "request_id": "xxxxxx",
    "timestamp": 123456789,
    "sn": "200000000001"
}`,
  heartbeat_rsp: `{
    "operate": "heartbeat_rsp",
    "request_id": "xxxxxx",
    "sn": "200000000001",
    "ret": 0,
    "msg": ""
}`,
  upload_snapshot: `{
    "operate": "upload_snapshot",
    "request_id": "xxxxxx",
    "timestamp": 123456789,
    "sn" : "290200001002",
    "data" : ""
}`,
  upload_snapshot_rsp: `{
    "operate": "upload_snapshot_rsp",
    "request_id": "xxxxxx",
    "sn": "200000000001",
    "ret": 0,
    "msg": ""
}`,
} as const;

/** Gateway to camera. */
export const commands = {
  get_dev_config: `{
    "operate": "get_dev_config",
    "request_id": "xxxxxx",
    "timestamp": 123456789,
    "sn": "200000000001"
}`,
  set_dev_config: `{
    "operate": "set_dev_config",
    "request_id": "xxxxxx",
    "timestamp": 123456789,
    "sn": "200000000001",
    "upload_type": 0,
    "upload_addr": "http://bd.com/api",    
    "hb_interval": 10
}`,
  upgrade_dev: `{
    "operate": "upgrade_dev",
    "request_id": "xxxxxx",
    "timestamp": 123456789,
    "sn": "200000000001",
    "package_url": "http://app.bin"
}`,
  control_cmd: `{
    "operate": "control_cmd",
    "request_id": "xxxxxx",
    "timestamp": 123456789,
    "sn": "200000000001",
    "cmd_data": {
        "type": "take_snapshot"
    }
}`,
} as const;

/** The cmd_data table of control_cmd. */
export const cmdData = {
  take_snapshot: '{"type": "take_snapshot"}',
  io_control: '{"type": "io_control", "io0": 0, "io1": 1}',
} as const;

/** Camera answers to commands. */
export const replies = {
  get_dev_config: `{
    "operate": "get_dev_config_rsp",
    "request_id": "xxxxxx",
    "sn": "200000000001",
    "ret": 0,
    "msg": "",
    "mac": "11:22:33",
    "upload_type": 0,
    "upload_addr": "http://bd.com/api",
    "hb_interval": 60,
    "run_time": 1000
}`,
  set_dev_config: `{
    "operate": "set_dev_config_rsp",
    "request_id": "xxxxxx",
    "sn": "200000000001",
    "ret": 0,
    "msg": ""
}`,
  upgrade_dev: `{
    "operate": "upgrade_dev_rsp",
    "request_id": "xxxxxx",
    "sn": "200000000001",
    "ret": 0,
    "msg": ""
}`,
  control_cmd: `{
    "operate": "control_cmd_rsp",
    "request_id": "xxxxxx",
    "sn": "200000000001",
    "ret": 0,
    "msg": ""
}`,
} as const;

export const REQUEST_ID = 'xxxxxx';
export const SN = '200000000001';
export const SEED_TIME = 123456789;
