// The simulators find the gateway through the variables that place its listeners, so a user who
// moved a port once (GATE2MQTT_QYZN_PORT=9100 in the shell) reaches it without repeating it.

/** The port in `variable` when it holds one, else `fallback`. */
export function portFromEnv(variable: string, fallback: number): number {
  const value = Number(process.env[variable]);
  return Number.isInteger(value) && value > 0 && value < 65536 ? value : fallback;
}
