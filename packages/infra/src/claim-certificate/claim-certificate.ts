import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AttachPolicyCommand,
  CertificateStatus,
  CreateKeysAndCertificateCommand,
  DeleteCertificateCommand,
  DescribeEndpointCommand,
  DetachPolicyCommand,
  GetPolicyCommand,
  type IoTClient,
  ResourceNotFoundException,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import { AMAZON_ROOT_CA_1_PEM } from "../register-device/amazon-root-ca.js";
import { CA_FILE } from "../register-device/register-device.js";

/** A batch name as the files and the certificate's tag carry it: 1–64 of `[A-Za-z0-9._-]`. */
const BATCH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ClaimCertificateOptions {
  /** The production batch the certificate is flashed on. */
  readonly batch: string;
  /** The stack's claim policy (`medusa-<stage>-claim`). */
  readonly policyName: string;
  /** The stack's provisioning template (`medusa-<stage>-fleet`), for the agent's configuration. */
  readonly templateName: string;
  /** Where the certificate, its key (0600), the CA and the `[provisioning]` snippet go. */
  readonly outDir: string;
  readonly overwrite?: boolean;
}

export interface ClaimCertificate {
  readonly batch: string;
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly endpoint: string;
  readonly files: ReadonlyArray<string>;
}

/** Stopped at `step`; what was created has been undone (or `leftover` says what was not). */
export class ClaimCertificateFailed extends Error {
  override readonly name = "ClaimCertificateFailed";
  constructor(
    readonly step: string,
    override readonly cause: unknown,
    readonly leftover: ReadonlyArray<string>,
  ) {
    super(
      `claim-certificate failed at ${step}: ${cause instanceof Error ? cause.message : String(cause)}${
        leftover.length === 0
          ? "; everything it had created was removed"
          : `; clean up by hand:\n  ${leftover.join("\n  ")}`
      }`,
    );
  }
}

/** The files written for a batch (names in `outDir`, and on the devices flashed). */
export const claimFiles = (batch: string) => ({
  certificate: `claim-${batch}.cert.pem`,
  privateKey: `claim-${batch}.private.key`,
  ca: CA_FILE,
  provisioning: `claim-${batch}.provisioning.toml`,
});

const isNotFound = (e: unknown) =>
  e instanceof ResourceNotFoundException ||
  (e instanceof Error && e.name === "ResourceNotFoundException");

/**
 * The claim certificate of a production batch: AWS IoT creates the key pair
 * and the certificate (inactive), the claim policy is attached, the
 * certificate, its key (0600; AWS never returns it again) and Amazon's root
 * CA are written with the `[provisioning]` table the batch's agents need, and
 * only then is the certificate activated. A failure at any step undoes what
 * was done, newest first: no certificate is left active without its key on
 * disk, nor a key on disk for a certificate that is gone.
 */
export const createClaimCertificate = async (
  iot: IoTClient,
  options: ClaimCertificateOptions,
  deps: { readonly log?: (line: string) => void } = {},
): Promise<ClaimCertificate> => {
  const { batch, policyName, outDir } = options;
  const log = deps.log ?? (() => {});
  if (!BATCH.test(batch))
    throw new Error(
      `batch "${batch}": 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit (it names the files)`,
    );
  const names = claimFiles(batch);
  const local = (file: string) => join(outDir, file);
  const planned = [names.certificate, names.privateKey, names.ca, names.provisioning];
  const existing = planned.filter((f) => existsSync(local(f)));
  if (existing.length > 0 && !options.overwrite)
    throw new Error(
      `${outDir} already holds ${existing.join(", ")}; choose another --out or pass --overwrite`,
    );

  const undo: Array<{ readonly what: string; readonly run: () => Promise<void> }> = [];
  let step = "";
  const attempt = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    step = name;
    log(`· ${name}`);
    return f();
  };
  try {
    const endpoint = await attempt("DescribeEndpoint", async () => {
      const out = await iot.send(new DescribeEndpointCommand({ endpointType: "iot:Data-ATS" }));
      if (!out.endpointAddress) throw new Error("IoT returned no data endpoint");
      return out.endpointAddress;
    });
    await attempt("GetPolicy", () =>
      iot.send(new GetPolicyCommand({ policyName })).catch((e: unknown) => {
        if (isNotFound(e))
          throw new Error(
            `no IoT policy ${policyName} in this account and region: deploy the stack first, or name the stage's claim policy`,
          );
        throw e;
      }),
    );
    const created = await attempt("CreateKeysAndCertificate", async () => {
      const out = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
      const privateKey = out.keyPair?.PrivateKey;
      if (!out.certificateId || !out.certificateArn || !out.certificatePem || !privateKey)
        throw new Error("IoT returned no certificate or no private key");
      return {
        certificateId: out.certificateId,
        certificateArn: out.certificateArn,
        certificatePem: out.certificatePem,
        privateKey,
      };
    });
    const { certificateId, certificateArn } = created;
    undo.push({
      what: `aws iot delete-certificate --certificate-id ${certificateId}`,
      run: async () => {
        await iot.send(new DeleteCertificateCommand({ certificateId })).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
      },
    });
    undo.push({
      what: `aws iot detach-policy --policy-name ${policyName} --target ${certificateArn}`,
      run: async () => {
        await iot
          .send(new DetachPolicyCommand({ policyName, target: certificateArn }))
          .catch((e: unknown) => {
            if (!isNotFound(e)) throw e;
          });
      },
    });
    await attempt("AttachPolicy", () =>
      iot.send(new AttachPolicyCommand({ policyName, target: certificateArn })),
    );

    const written: Array<string> = [];
    undo.push({
      what: `rm ${planned.map(local).join(" ")}`,
      run: async () => {
        for (const f of written) rmSync(f, { force: true });
      },
    });
    await attempt("write files", async () => {
      mkdirSync(outDir, { recursive: true, mode: 0o700 });
      const write = (file: string, content: string, mode: number) => {
        writeFileSync(local(file), content, { mode });
        chmodSync(local(file), mode);
        written.push(local(file));
      };
      // The key first: a certificate file without its key would be of no use.
      write(names.privateKey, created.privateKey, 0o600);
      write(names.certificate, created.certificatePem, 0o644);
      write(names.ca, AMAZON_ROOT_CA_1_PEM, 0o644);
      write(
        names.provisioning,
        provisioningSnippet({ batch, endpoint, templateName: options.templateName, certificateId }),
        0o644,
      );
    });

    undo.push({
      what: `aws iot update-certificate --certificate-id ${certificateId} --new-status INACTIVE`,
      run: async () => {
        await iot.send(
          new UpdateCertificateCommand({ certificateId, newStatus: CertificateStatus.INACTIVE }),
        );
      },
    });
    await attempt("UpdateCertificate ACTIVE", () =>
      iot.send(
        new UpdateCertificateCommand({ certificateId, newStatus: CertificateStatus.ACTIVE }),
      ),
    );
    return { batch, certificateId, certificateArn, endpoint, files: [...written] };
  } catch (cause) {
    const failedAt = step;
    const leftover: Array<string> = [];
    for (const u of undo.reverse()) {
      try {
        await u.run();
      } catch (e) {
        leftover.push(`${u.what}   (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    throw new ClaimCertificateFailed(failedAt, cause, leftover);
  }
};

/** What the batch's agent configuration needs: the broker, and the `[provisioning]` table. */
export const provisioningSnippet = (o: {
  readonly batch: string;
  readonly endpoint: string;
  readonly templateName: string;
  readonly certificateId: string;
}) => {
  const files = claimFiles(o.batch);
  return `# Batch ${o.batch}: claim certificate ${o.certificateId}.
# Into every device's mqtt_publisher.toml of the batch (no client_id, client_cert, client_key):
# the agent provisions itself on first boot as medusa-<serial> (serial from /proc/cpuinfo).
[mqtt]
broker_host = "${o.endpoint}"
broker_port = 8883
ca_cert = "/etc/medusa/certs/${files.ca}"

[provisioning]
template = "${o.templateName}"
claim_cert = "/etc/medusa/certs/${files.certificate}"
claim_key = "/etc/medusa/certs/${files.privateKey}"
dir = "/data/medusa/provisioning"
`;
};
