// SPDX-License-Identifier: Apache-2.0
/** Key paths as users read them: `runtime_agent.targets[0].service`, `…headers["x-api-key"]`. */
export type KeySegment = string | number;

export function formatKeyPath(segments: readonly KeySegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out || '(root)';
}

/** Ajv's JSON pointer (`/runtime_agent/targets/0`) to segments; numeric parts under arrays become indices. */
export function pointerToSegments(pointer: string, root: unknown): KeySegment[] {
  if (!pointer) return [];
  const segments: KeySegment[] = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment: KeySegment = Array.isArray(node) && /^\d+$/.test(part) ? Number(part) : part;
    segments.push(segment);
    node = node && typeof node === 'object' ? (node as Record<string | number, unknown>)[segment] : undefined;
  }
  return segments;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
