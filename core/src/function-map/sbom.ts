// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PackageURL } from 'packageurl-js';
import { InputError } from '../errors.js';

/** One SBOM component with a usable purl, flattened out of nested `components`. */
export interface SbomComponent {
  purl: string;
  type: string;
  namespace: string | undefined;
  name: string;
  version: string | undefined;
  qualifiers: Record<string, string>;
  /** File paths the SBOM says belong to the component (CycloneDX evidence, syft/trivy properties). */
  files: string[];
}

export interface ParsedSbom {
  specVersion: string;
  /** `metadata.component`: what the SBOM describes (image, application). */
  subject: { name?: string; purl?: string; sha256?: string };
  components: SbomComponent[];
  /** Components without a purl or with one packageurl-js rejects (counted for the warning). */
  skipped: number;
  digest: string;
}

const SUPPORTED = /^1\.[2-7]$/;

interface RawComponent {
  purl?: unknown;
  name?: unknown;
  version?: unknown;
  hashes?: unknown;
  components?: unknown;
  evidence?: { occurrences?: { location?: unknown }[] };
  properties?: { name?: unknown; value?: unknown }[];
}

function filesOf(c: RawComponent): string[] {
  const out = new Set<string>();
  for (const o of Array.isArray(c.evidence?.occurrences) ? c.evidence.occurrences : []) {
    if (typeof o?.location === 'string') out.add(o.location);
  }
  for (const p of Array.isArray(c.properties) ? c.properties : []) {
    // syft: `syft:location:0:path`; trivy: `aquasecurity:trivy:FilePath`.
    if (typeof p?.name === 'string' && typeof p.value === 'string' && /(?:location:\d+:path|FilePath)$/.test(p.name)) {
      out.add(p.value.startsWith('/') ? p.value : '/' + p.value);
    }
  }
  return [...out].sort();
}

function sha256Of(c: RawComponent): string | undefined {
  if (!Array.isArray(c.hashes)) return undefined;
  for (const h of c.hashes as { alg?: unknown; content?: unknown }[]) {
    if (h?.alg === 'SHA-256' && typeof h.content === 'string' && /^[0-9a-f]{64}$/i.test(h.content)) {
      return h.content.toLowerCase();
    }
  }
  return undefined;
}

/**
 * Parses a CycloneDX JSON SBOM (1.2–1.7, as syft, trivy and cdxgen write them). Refuses XML and
 * SPDX with a sentence saying what to do instead.
 */
export function parseSbom(text: string, source: string): ParsedSbom {
  const digest = 'sha256:' + createHash('sha256').update(text, 'utf8').digest('hex');
  const head = text.trimStart();
  if (head.startsWith('<')) {
    throw new InputError(
      `SBOM ${source} is XML; only CycloneDX JSON (1.2–1.7) is read: convert it (cyclonedx convert --input-file ${source} --output-format json) or have the generator write JSON (syft -o cyclonedx-json, trivy --format cyclonedx)`,
    );
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new InputError(`SBOM ${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InputError(`SBOM ${source}: expected a CycloneDX JSON object`);
  }
  if (typeof json.spdxVersion === 'string') {
    throw new InputError(
      `SBOM ${source} is SPDX (${json.spdxVersion}); expected CycloneDX JSON 1.2–1.7 (syft -o cyclonedx-json)`,
    );
  }
  if (json.bomFormat !== 'CycloneDX') {
    throw new InputError(`SBOM ${source}: "bomFormat" is ${JSON.stringify(json.bomFormat)}; expected "CycloneDX"`);
  }
  const specVersion = String(json.specVersion ?? '');
  if (!SUPPORTED.test(specVersion)) {
    throw new InputError(
      `SBOM ${source}: "specVersion" ${JSON.stringify(json.specVersion)} is not supported; expected 1.2 to 1.7`,
    );
  }
  const components: SbomComponent[] = [];
  const seen = new Set<string>();
  let skipped = 0;
  // An explicit stack, not recursion: a hostile SBOM nests components thousands deep.
  const stack: { list: unknown[]; at: string }[] = [];
  const push = (list: unknown, at: string) => {
    if (list === undefined) return;
    if (!Array.isArray(list)) {
      // The wording of the annotate reader (sbom/document.ts), which reads the same field.
      throw new InputError(`SBOM ${source}: field "${at}" must be an array`);
    }
    stack.push({ list, at });
  };
  const visit = () => {
    while (stack.length > 0) {
      const { list, at } = stack.pop()!;
      list.forEach((raw: unknown, i) => {
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
          throw new InputError(
            `SBOM ${source}: ${at}[${i}] is ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : `a ${typeof raw}`}; expected a component object`,
          );
        }
        add(raw as RawComponent);
        push((raw as RawComponent).components, `${at}[${i}].components`); // assemblies, image layers
      });
    }
  };
  const add = (raw: RawComponent) => {
    if (typeof raw.purl === 'string' && raw.purl.startsWith('pkg:')) {
      try {
        const p = PackageURL.fromString(raw.purl);
        if (!seen.has(raw.purl)) {
          seen.add(raw.purl);
          components.push({
            purl: raw.purl,
            type: p.type.toLowerCase(),
            namespace: p.namespace ?? undefined,
            name: p.name,
            version: p.version ?? undefined,
            qualifiers: (p.qualifiers ?? {}) as Record<string, string>,
            files: filesOf(raw),
          });
        }
      } catch {
        skipped++;
      }
    } else skipped++;
  };
  push(json.components, 'components');
  visit();
  const metadata = (json.metadata ?? {}) as { component?: RawComponent };
  const meta = metadata.component ?? {};
  const subject: ParsedSbom['subject'] = {};
  // syft names a directory scan's subject by its path ("/"), which says nothing about the service.
  if (typeof meta.name === 'string' && (meta as { type?: unknown }).type !== 'file') subject.name = meta.name;
  if (typeof meta.purl === 'string' && meta.purl.startsWith('pkg:')) subject.purl = meta.purl;
  const sha =
    sha256Of(meta) ??
    (typeof meta.version === 'string' && /^sha256:[0-9a-f]{64}$/.test(meta.version)
      ? meta.version.slice(7)
      : undefined);
  const ociDigest = (() => {
    // trivy: the image digest is the version of the `pkg:oci/...@sha256:...` purl.
    if (!subject.purl) return undefined;
    try {
      const v = PackageURL.fromString(subject.purl).version ?? '';
      return /^sha256:[0-9a-f]{64}$/.test(v) ? v.slice(7) : undefined;
    } catch {
      return undefined;
    }
  })();
  if (sha ?? ociDigest) subject.sha256 = (sha ?? ociDigest)!;
  return { specVersion, subject, components, skipped, digest };
}

export async function readSbom(path: string): Promise<ParsedSbom> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read SBOM ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return parseSbom(text, path);
}
