import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TLS_CERT = fileURLToPath(new URL('./tls-cert.pem', import.meta.url));
export const TLS_KEY = fileURLToPath(new URL('./tls-key.pem', import.meta.url));
export const TLS_CA = readFileSync(TLS_CERT);
