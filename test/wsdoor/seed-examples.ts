// Every example message of seed 003, as the seed prints it. The realtimeEvent examples carry
// `//` comments in the seed; they are transcribed without them, nothing else changed. The
// editUser example is the seed's own, which says "addUser" (a copy-paste slip in the seed).

/** Terminal to gateway. */
export const device = {
  register: '{"code":"205","data":{"ip":"192.168.0.102","mac":"31231E2EW12W12","sn":"486468465489","type":"0"}}',
  heartbeat: '{"code":"206","data":{"time":"2023-12-25 15:47:30"}}',
  realtimeEventPassage: `{
    "code": "207",
"data": {
"eventid": "20240115113644",
        "type": "1",
        "data": {
            "userId": "77986",
            "img": "base64...",
            "door": "0"
        }
    }
}`,
  realtimeEventUserAdded: `{
    "code": "207",
"data": {
"eventid": "20240115113644",
        "type": "2",
        "data": {
            "user": "lisi",
            "userId": "12384865",
            "pwd": "1234",
            "name": "李四",
            "role": "0",
            "img": "base64....."
        }
    }
}`,
} as const;

/** Terminal answers to commands, by command. */
export const replies = {
  addUser: '{"code":"200","data":"","commandId":"20240115144330"}',
  deleteUser: '{"code":"200","data":"","commandId":"20240115144330"}',
  editUser: '{"code":"200","data":"","commandId":"20240115144330"}',
  selectUser:
    '{"code":"203","content":[{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."}],"commandId":"20240115144330"}',
  compareUser: '{"code":"204","content":{"exit":"1"},"commandId":"20240115144330"}',
  queryEvent: `{
"code":"208",
"content":
{
"eventid": "20240115113644",
"type": "1",
"data": {
"userId": "77986",
"img": "base64...",
"door": "0"
}
},
"commandId":"20240115144330"
}`,
} as const;

/** Gateway to terminal: commands, by command. */
export const commands = {
  addUser:
    '{"commandId":"20240115144330","command":"addUser","content":{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."}}',
  deleteUser: '{"command":"deleteUser","content":{"userId":"12384865","name":"李四"},"commandId":"20240115144330"}',
  editUser:
    '{"command":"addUser","content":{"user":"lisi","userId":"12384865","pwd":"1234","name":"李四","role":"0","img":"base64....."},"commandId":"20240115144330"}',
  selectUser: '{"command":"selectUser","content":{"userId":"12384865","name":"李四"},"commandId":"20240115144330"}',
  compareUser: '{"command":"compareUser","content":{"img":"base64..."},"commandId":"20240115144330"}',
  queryEvent: '{"command":"queryEvent","content":{"eventid":"20240115113644"},"commandId":"20240115144330"}',
} as const;

/** Gateway answers to uploads. */
export const responses = {
  register: '{"command":"response","content":{"code":"200","interval":"20","data":""}}',
  heartbeat: '{"command":"response","content":{"code":"200","data":""}}',
  realtimeEvent: '{"command":"response","content":{"code":"200","data":""}}',
} as const;

export const COMMAND_ID = '20240115144330';
