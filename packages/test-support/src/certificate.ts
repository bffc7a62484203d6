import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AwsClients } from "@mlflow-dev/aws/deploy";

/** A self-signed certificate for `domain`, imported into the emulator's ACM: its ARN. */
export async function importCertificate(clients: AwsClients, domain: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "mlflow-dev-cert-"));
  try {
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"],
        ...["-subj", `/CN=${domain}`, "-addext", `subjectAltName=DNS:${domain}`],
        ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      ],
      { stdio: "pipe" },
    );
    const imported = await clients.acm.importCertificate({
      Certificate: readFileSync(join(dir, "cert.pem")),
      PrivateKey: readFileSync(join(dir, "key.pem")),
    });
    return imported.CertificateArn ?? "";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
