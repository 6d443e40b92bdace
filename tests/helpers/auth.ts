/**
 * Secrets for the security tests, made on the spot: TLS certificates (a CA, a server
 * certificate for 127.0.0.1, a client certificate) with openssl, nkey seeds, and an operator /
 * account / user JWT chain with a credentials file for nats-server's operator mode (MEMORY
 * resolver, the account JWT preloaded: nothing but nats-server is needed).
 * @module
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { nkeys } from "@nats-io/nats-core";

/** Paths of the files {@link makeCertificates} wrote. */
export interface Certificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, signed by the CA. */
export function makeCertificates(dir: string): Certificates {
  openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=taskd test CA", "-keyout", "ca.key", "-out", "ca.pem");
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=taskd test ${who}`, "-keyout", `${who}.key`, "-out", `${who}.csr`);
    openssl(dir, "x509", "-req", "-in", `${who}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${who}.ext`, "-out", `${who}.pem`);
  }
  return {
    ca: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
  };
}

/** A new user nkey: its public key (for the server's config) and its seed written to `file`. */
export function makeUserNkey(file: string): string {
  const kp = nkeys.createUser();
  writeFileSync(file, new TextDecoder().decode(kp.getSeed()) + "\n");
  return kp.getPublicKey();
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString("base64url");

function jwt(claims: Record<string, unknown>, signer: ReturnType<typeof nkeys.createOperator>): string {
  const body = { ...claims, iat: Math.floor(Date.now() / 1000), iss: signer.getPublicKey() };
  const jti = createHash("sha256").update(JSON.stringify(body)).digest("base64url");
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const payload = b64url(JSON.stringify({ jti, ...body }));
  const sig = signer.sign(new TextEncoder().encode(`${header}.${payload}`));
  return `${header}.${payload}.${b64url(sig)}`;
}

/**
 * An operator-mode setup: returns the server config lines (operator JWT, a system account, MEMORY
 * resolver with the accounts preloaded, JetStream enabled for the account) and writes a user's `.creds` file.
 */
export function makeOperatorSetup(credsFile: string): { serverConfig: string } {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const system = nkeys.createAccount();
  const user = nkeys.createUser();
  const operatorJwt = jwt({ sub: operator.getPublicKey(), name: "taskd-test", nats: { type: "operator", version: 2 } }, operator);
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const accountJwt = jwt({ sub: account.getPublicKey(), name: "TASKD", nats: { type: "account", version: 2, limits: { ...unlimited, ...jetstream } } }, operator);
  const systemJwt = jwt({ sub: system.getPublicKey(), name: "SYS", nats: { type: "account", version: 2, limits: unlimited } }, operator);
  const userJwt = jwt({ sub: user.getPublicKey(), name: "taskd-user", nats: { type: "user", version: 2, pub: {}, sub: {}, subs: -1, data: -1, payload: -1 } }, account);
  const seed = new TextDecoder().decode(user.getSeed());
  writeFileSync(
    credsFile,
    `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
      `************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n` +
      `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
  );
  return {
    serverConfig: `operator: "${operatorJwt}"\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\n` +
      `resolver_preload: {\n  ${account.getPublicKey()}: "${accountJwt}"\n  ${system.getPublicKey()}: "${systemJwt}"\n}\n`,
  };
}
