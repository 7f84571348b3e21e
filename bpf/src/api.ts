// SPDX-License-Identifier: Apache-2.0
import type { BpfApi, BpfObjectHandle, KernelFeatures } from '@stella/sdk';
import { type DetectOptions, detectKernelFeatures, TARGET_FILTER_OBJECT, uprobeMultiSupported } from './features.js';
import { nativeAddon } from './native.js';
import { BpfObject } from './object.js';

/** The SDK's BpfApi backed by libbpf. Feature detection runs once, on first use. */
export class LibbpfApi implements BpfApi {
  #features: KernelFeatures | undefined;
  readonly targetFilterObject = TARGET_FILTER_OBJECT;
  constructor(private readonly detectOptions: DetectOptions = {}) {}

  open(objectPath: string, options: { name?: string } = {}): BpfObjectHandle {
    return new BpfObject(objectPath, options);
  }

  features(): KernelFeatures {
    this.#features ??= detectKernelFeatures(this.detectOptions);
    return this.#features;
  }

  uprobeMultiSupported(): Promise<{ supported: boolean; reason?: string }> {
    return uprobeMultiSupported();
  }

  releaseFreedMemory(): Promise<boolean> {
    return nativeAddon().releaseFreedMemory();
  }
}

export function createBpfApi(detectOptions: DetectOptions = {}): BpfApi {
  return new LibbpfApi(detectOptions);
}
