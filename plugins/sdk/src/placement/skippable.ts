// SPDX-License-Identifier: Apache-2.0
/**
 * Which instructions a probe may be moved past. Moving the probe from the entry to a later
 * instruction keeps the count exact only if every execution of the entry reaches it and nothing
 * else does. This file answers the first half: an instruction may sit in the skipped run when it
 * always falls through to the next one.
 *
 * - Control flow: only `FlowControl.Next` (no jump, call, return, interrupt, syscall, `ud2`).
 * - Faults: a fault in the run is a call counted at the entry and not at the moved probe. A fault
 *   that kills the process costs one count in a dying process; one that a SIGSEGV handler
 *   recovers from (runtimes that turn faults into exceptions, libsigsegv) would differ for good.
 *   So memory is allowed only where it cannot fault in a live thread:
 *   - `lea` (computes an address, reads nothing);
 *   - the stack through `%rsp` (and `push`/`pop`): the caller's frame is mapped, and a write below
 *     it faults only on the guard page at stack overflow, which delivers SIGSEGV with no stack to
 *     run a handler on unless the program set up `sigaltstack`, and even then the function cannot
 *     be resumed: the process dies at both placements;
 *   - `%fs:` with no base or index register: the thread's TCB and static TLS block (the stack
 *     protector canary at `%fs:0x28`), mapped for the thread's whole life;
 *   - `%rip`-relative reads of an address inside one of the file's loadable segments (its own
 *     globals and GOT, mapped whenever the code is).
 *   Any other memory operand (a load through an argument pointer) ends the run, unless the
 *   caller opts in with `allowFaultingAccess` (types.ts says what that costs).
 * - Instruction kinds: a list of integer instructions that raise no exception on register
 *   operands (`div`/`idiv` raise #DE, so they are not on it), plus `endbr64`, the non-emulated NOP
 *   forms and the SSE2 register moves compilers use to zero a register (SSE2 is baseline x86-64).
 */
import iced from 'iced-x86';

const { FlowControl, Mnemonic, OpAccess, OpKind, Register } = iced;
const accessInfo = new iced.InstructionInfoFactory();
type Instruction = InstanceType<typeof iced.Instruction>;

const INTEGER = [
  'Mov',
  'Movzx',
  'Movsx',
  'Movsxd',
  'Xor',
  'Or',
  'And',
  'Test',
  'Cmp',
  'Add',
  'Sub',
  'Adc',
  'Sbb',
  'Lea',
  'Inc',
  'Dec',
  'Neg',
  'Not',
  'Shl',
  'Shr',
  'Sar',
  'Rol',
  'Ror',
  'Push',
  'Pop',
  'Xchg',
  'Bt',
  'Imul',
  'Cdq',
  'Cqo',
  'Cdqe',
  'Cwde',
  'Bswap',
  'Endbr64',
  'Nop',
  'Pause',
] as const;
const SSE_REGISTER_ONLY = ['Movd', 'Movq', 'Pxor', 'Xorps', 'Xorpd', 'Movaps', 'Movdqa', 'Movups', 'Movdqu'] as const;
const mnemonicByName = Mnemonic as unknown as Record<string, number>;
const NEVER_FAULTS = new Set<number>([
  ...INTEGER.map((name) => mnemonicByName[name]!),
  ...Object.keys(mnemonicByName)
    .filter((name) => /^(Cmov|Set)(n?[a-z]{1,2})$/.test(name))
    .map((name) => mnemonicByName[name]!),
]);
const REGISTER_ONLY = new Set<number>(SSE_REGISTER_ONLY.map((name) => mnemonicByName[name]!));

/** The answer for a plain access through a pointer: what `allowFaultingAccess` lets through. */
export const MAY_FAULT = 'reads or writes memory through a pointer (it may fault)';

export interface SkipContext {
  /** Whether an address lies in one of the file's loadable segments. */
  isMapped(vaddr: number): boolean;
}

/**
 * Undefined when `instruction` always falls through without a possible fault in a live thread;
 * otherwise why not, as a phrase that follows the instruction's text ("changes control flow").
 */
export function whyNotSkippable(instruction: Instruction, context: SkipContext): string | undefined {
  if (instruction.isInvalid) return 'cannot be decoded';
  if (instruction.flowControl !== FlowControl.Next) return 'changes control flow';
  if (instruction.isPrivileged) return 'is privileged';
  const mnemonic = instruction.mnemonic;
  const registerOnly = REGISTER_ONLY.has(mnemonic);
  if (!NEVER_FAULTS.has(mnemonic) && !registerOnly) return 'is not one placement knows to be fault-free';
  if (instruction.hasLockPrefix) return 'is a locked memory access';
  for (let operand = 0; operand < instruction.opCount; operand++) {
    const kind = instruction.opKind(operand);
    if (kind === OpKind.Memory) {
      if (registerOnly) return 'accesses memory';
      const why = whyMemoryMayFault(instruction, operand, context);
      if (why) return why;
    } else if (kind !== OpKind.Register && !isImmediate(kind)) {
      return 'accesses memory implicitly';
    }
  }
  return undefined;
}

function whyMemoryMayFault(instruction: Instruction, operand: number, context: SkipContext): string | undefined {
  if (instruction.mnemonic === Mnemonic.Lea) return undefined;
  const base = instruction.memoryBase;
  const index = instruction.memoryIndex;
  if (base === Register.RSP && index === Register.None && !instruction.hasSegmentPrefix) return undefined;
  if (instruction.memorySegment === Register.FS && base === Register.None && index === Register.None) return undefined;
  if (instruction.isIpRelMemoryOperand) {
    // A store through %rip could hit RELRO pages made read-only after relocation: reads only.
    const access = accessInfo.info(instruction).opAccess(operand);
    const readOnly = access === OpAccess.Read || access === OpAccess.CondRead;
    if (readOnly && context.isMapped(Number(instruction.ipRelMemoryAddress))) return undefined;
    return 'writes or reads outside the file through %rip';
  }
  return MAY_FAULT;
}

function isImmediate(kind: number): boolean {
  return (
    kind === OpKind.Immediate8 ||
    kind === OpKind.Immediate8_2nd ||
    kind === OpKind.Immediate16 ||
    kind === OpKind.Immediate32 ||
    kind === OpKind.Immediate64 ||
    kind === OpKind.Immediate8to16 ||
    kind === OpKind.Immediate8to32 ||
    kind === OpKind.Immediate8to64 ||
    kind === OpKind.Immediate32to64
  );
}
