// SPDX-License-Identifier: Apache-2.0
/** "Did you mean" for unknown keys: same letters in another case/separator style, or a small typo. */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const normalized = normalize(key);
  const sameWord = candidates.find((c) => normalize(c) === normalized);
  if (sameWord) return sameWord;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = levenshtein(normalized, normalize(candidate));
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  // A third of the word, at least 2 edits: catches `sampling_rat`, `retension_hours`, not `foo` → `db`.
  if (best && best.distance <= Math.max(2, Math.floor(key.length / 3)) && best.distance < key.length) {
    return best.candidate;
  }
  return undefined;
}

function normalize(key: string): string {
  return key.toLowerCase().replace(/[-_\s]/g, '');
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
