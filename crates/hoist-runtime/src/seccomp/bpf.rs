//! Compiles a [`Profile`] into a classic BPF program for the kernel's seccomp filter, with the
//! semantics Docker gets from runc and libseccomp:
//!
//! - a rule applies when Docker's `includes`/`excludes` say so for the container's capabilities and
//!   the host's architecture and kernel;
//! - rules whose action is the default action are dropped (runc does), syscall names unknown on an
//!   ABI are skipped there;
//! - for one syscall, an unconditional rule wins over every other rule (the first one, if several);
//!   conditional rules are tried in order and the first whose conditions all hold decides
//!   (libseccomp merges them into a tree, which is the same when their actions agree, as Docker's
//!   do); several conditions on the same argument are alternatives (runc splits them into rules);
//! - argument values are compared as 64-bit numbers on 64-bit ABIs, by their low 32 bits on others;
//! - with a denying default action, syscall numbers above the largest one the profile names answer
//!   ENOSYS, so that a libc newer than the profile falls back to older calls (runc's stub);
//! - ABIs the profile does not list (i386 or x32 on x86-64, arm on aarch64) kill the process.
//!
//! The program checks the audit architecture, then finds the syscall number's outcome by binary
//! search over the ranges of numbers that share one, then checks arguments where rules have them.

use std::collections::BTreeMap;

use seccompiler::sock_filter;

use super::SeccompError;
use super::profile::{Action, Arch, ArgCondition, KernelVersion, Op, Profile};
use super::table::{Abi, X32_SYSCALL_BIT};

/// The hosts a filter can be compiled for, with the ABIs their processes can call the kernel with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Host {
    X86_64,
    Aarch64,
    Riscv64,
}

impl Host {
    /// The host this process runs on, if seccomp filters can be built for it.
    pub(super) fn current() -> Option<Host> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Host::X86_64),
            "aarch64" => Some(Host::Aarch64),
            "riscv64" => Some(Host::Riscv64),
            _ => None,
        }
    }

    fn native_abi(self) -> Abi {
        match self {
            Host::X86_64 => Abi::X86_64,
            Host::Aarch64 => Abi::Aarch64,
            Host::Riscv64 => Abi::Riscv64,
        }
    }

    fn native_arch(self) -> Arch {
        match self {
            Host::X86_64 => Arch::X86_64,
            Host::Aarch64 => Arch::Aarch64,
            Host::Riscv64 => Arch::Riscv64,
        }
    }

    /// The name Docker matches `includes.arches` and `excludes.arches` with (Go's, through libseccomp).
    fn arch_name(self) -> &'static str {
        match self {
            Host::X86_64 => "amd64",
            Host::Aarch64 => "arm64",
            Host::Riscv64 => "riscv64",
        }
    }

    /// Whether a process on this host can make calls through `abi`; others can never reach a filter.
    fn runs(self, abi: Abi) -> bool {
        match self {
            Host::X86_64 => matches!(abi, Abi::X86_64 | Abi::X32 | Abi::I386),
            Host::Aarch64 => matches!(abi, Abi::Aarch64 | Abi::Arm),
            Host::Riscv64 => abi == Abi::Riscv64,
        }
    }
}

// seccomp return values (linux/seccomp.h); the low 16 bits carry the errno or trace message.
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_DATA: u32 = 0xffff;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// What a call through an ABI the filter does not cover gets. libseccomp's default kills the
/// thread; killing the whole process leaves no half-dead program behind.
const RET_BAD_ARCH: u32 = RET_KILL_PROCESS;

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

// struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (little-endian hosts).
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;

// Classic BPF opcodes.
const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x54;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;

/// The kernel return value of an action.
fn ret_value(action: Action, errno: Option<u32>) -> u32 {
    let data = errno.unwrap_or(EPERM) & RET_DATA;
    match action {
        Action::Allow => RET_ALLOW,
        Action::Errno => RET_ERRNO | data,
        Action::Kill | Action::KillThread => RET_KILL_THREAD,
        Action::KillProcess => RET_KILL_PROCESS,
        Action::Trap => RET_TRAP,
        Action::Trace => RET_TRACE | data,
        Action::Log => RET_LOG,
    }
}

/// A rule that applies to this container, reduced to what the filter needs.
struct Applied<'a> {
    names: Vec<&'a str>,
    ret: u32,
    args: &'a [ArgCondition],
}

/// Docker's selection of the rules that apply: `excludes` first (any match drops the rule), then
/// `includes` (every condition must hold).
fn applicable_rules<'a>(
    profile: &'a Profile,
    capabilities: &[&str],
    host: Host,
    kernel: &Result<KernelVersion, String>,
) -> Result<Vec<Applied<'a>>, SeccompError> {
    let running = || {
        kernel
            .clone()
            .map_err(|release| SeccompError::KernelVersion { release })
    };
    let held = |cap: &String| capabilities.contains(&cap.as_str());
    let mut applied = Vec::new();
    for rule in &profile.syscalls {
        let excludes = &rule.excludes;
        if excludes.arches.iter().any(|arch| arch == host.arch_name())
            || excludes.caps.iter().any(held)
        {
            continue;
        }
        if let Some(min) = excludes.min_kernel
            && running()? >= min
        {
            continue;
        }
        let includes = &rule.includes;
        if !includes.arches.is_empty() && !includes.arches.iter().any(|a| a == host.arch_name()) {
            continue;
        }
        if !includes.caps.iter().all(held) {
            continue;
        }
        if let Some(min) = includes.min_kernel
            && running()? < min
        {
            continue;
        }
        applied.push(Applied {
            names: rule.syscall_names(),
            ret: ret_value(rule.action, rule.errno_ret),
            args: &rule.args,
        });
    }
    Ok(applied)
}

/// The ABIs the filter covers: the native one and those the profile lists that this host runs.
fn covered_abis(profile: &Profile, host: Host) -> Vec<Abi> {
    let listed: Vec<Arch> = if profile.arch_map.is_empty() {
        profile.architectures.clone()
    } else {
        profile
            .arch_map
            .iter()
            .find(|entry| entry.architecture == host.native_arch())
            .map(|entry| {
                std::iter::once(entry.architecture)
                    .chain(entry.sub_architectures.iter().copied())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut abis = vec![host.native_abi()];
    for abi in listed.into_iter().filter_map(Abi::from_arch) {
        if host.runs(abi) && !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    abis
}

/// What one syscall number gets.
enum Outcome {
    /// This return value, whatever the arguments.
    Ret(u32),
    /// The first rule whose conditions all hold decides; the default action otherwise.
    Rules(Vec<ConditionalRule>),
}

/// Return `ret` when all `conditions` hold.
struct ConditionalRule {
    conditions: Vec<ArgCondition>,
    ret: u32,
}

/// The decisions for one ABI.
struct AbiPlan {
    abi: Abi,
    syscalls: BTreeMap<u32, Outcome>,
    /// The largest syscall number the applicable rules name, for the ENOSYS stub.
    largest: Option<u32>,
}

fn plan(rules: &[Applied<'_>], abi: Abi, default_ret: u32) -> AbiPlan {
    let mut syscalls = BTreeMap::new();
    let mut largest = None;
    for rule in rules {
        for name in &rule.names {
            let Some(number) = abi.syscall_number(name) else {
                continue;
            };
            largest = largest.max(Some(number));
            if rule.ret == default_ret {
                continue;
            }
            let outcome = syscalls
                .entry(number)
                .or_insert_with(|| Outcome::Rules(Vec::new()));
            match outcome {
                // libseccomp keeps the first unconditional rule and ignores what follows.
                Outcome::Ret(_) => {}
                // An unconditional rule replaces the conditional ones before it.
                Outcome::Rules(_) if rule.args.is_empty() => *outcome = Outcome::Ret(rule.ret),
                Outcome::Rules(list) => {
                    let repeats_an_argument = rule.args.iter().enumerate().any(|(i, arg)| {
                        rule.args
                            .iter()
                            .skip(i + 1)
                            .any(|other| other.index == arg.index)
                    });
                    if repeats_an_argument {
                        list.extend(rule.args.iter().map(|arg| ConditionalRule {
                            conditions: vec![*arg],
                            ret: rule.ret,
                        }));
                    } else {
                        list.push(ConditionalRule {
                            conditions: rule.args.to_vec(),
                            ret: rule.ret,
                        });
                    }
                }
            }
        }
    }
    AbiPlan {
        abi,
        syscalls,
        largest,
    }
}

/// Compiles `profile` for `host`, for a container holding `capabilities`, on a kernel of version
/// `kernel` (or whose release string could not be read, which matters only to rules with
/// `minKernel`). `None` when the profile is Docker's "no filter" form.
pub(super) fn compile_program(
    profile: &Profile,
    capabilities: &[&str],
    host: Host,
    kernel: &Result<KernelVersion, String>,
) -> Result<Option<Vec<sock_filter>>, SeccompError> {
    profile.validate()?;
    if profile.is_disabled() {
        return Ok(None);
    }
    let default_action = profile
        .default_action
        .ok_or(SeccompError::NoDefaultAction)?;
    let default_ret = ret_value(default_action, profile.default_errno_ret);
    let rules = applicable_rules(profile, capabilities, host, kernel)?;
    let plans: Vec<AbiPlan> = covered_abis(profile, host)
        .into_iter()
        .map(|abi| plan(&rules, abi, default_ret))
        .collect();
    // runc's stub: only when the default denies, and not when it already answers ENOSYS.
    let enosys_stub = !matches!(default_action, Action::Allow | Action::Log | Action::Trace)
        && profile.default_errno_ret != Some(ENOSYS);
    let mut codegen = Codegen {
        asm: Assembler::default(),
        returns: BTreeMap::new(),
        blocks: Vec::new(),
        default_ret,
        enosys_stub,
    };
    codegen.program(&plans);
    codegen.asm.finish().map(Some)
}

/// Emits the program; return instructions and argument checks are collected and placed last.
struct Codegen<'p> {
    asm: Assembler,
    returns: BTreeMap<u32, Label>,
    blocks: Vec<(Label, Abi, &'p [ConditionalRule])>,
    default_ret: u32,
    enosys_stub: bool,
}

impl<'p> Codegen<'p> {
    /// The label of a `ret value` instruction (one per distinct value, at the end).
    fn ret(&mut self, value: u32) -> Label {
        if let Some(label) = self.returns.get(&value) {
            return *label;
        }
        let label = self.asm.label();
        self.returns.insert(value, label);
        label
    }

    fn program(&mut self, plans: &'p [AbiPlan]) {
        // x32 shares x86-64's audit architecture: one section serves both.
        let mut sections: Vec<(u32, Vec<&'p AbiPlan>)> = Vec::new();
        for plan in plans {
            let audit = plan.abi.audit_arch();
            match sections.iter_mut().find(|(a, _)| *a == audit) {
                Some((_, members)) => members.push(plan),
                None => sections.push((audit, vec![plan])),
            }
        }
        let bad_arch = self.ret(RET_BAD_ARCH);
        self.asm.stmt(LD_W_ABS, OFFSET_ARCH);
        let mut starts = Vec::new();
        for (audit, _) in &sections {
            let start = self.asm.label();
            let next = self.asm.label();
            self.asm.jump(JMP_JEQ_K, *audit, start, next);
            self.asm.place(next);
            starts.push(start);
        }
        self.asm.goto(bad_arch);
        for ((_, members), start) in sections.iter().zip(starts) {
            self.asm.place(start);
            self.asm.stmt(LD_W_ABS, OFFSET_NR);
            let native = members.iter().find(|p| p.abi != Abi::X32);
            let x32 = members.iter().find(|p| p.abi == Abi::X32);
            if native.map(|p| p.abi) == Some(Abi::X86_64) {
                // The x32 bit tells the two ABIs apart: without x32 in the profile such calls are
                // foreign, except -1, which a tracer uses to skip a call (libseccomp lets it through
                // to the rules, where it meets the default action).
                let native_start = self.asm.label();
                let x32_start = self.asm.label();
                self.asm
                    .jump(JMP_JGE_K, X32_SYSCALL_BIT, x32_start, native_start);
                self.asm.place(native_start);
                if let Some(plan) = native {
                    self.dispatch(plan, 0);
                }
                self.asm.place(x32_start);
                match x32 {
                    Some(plan) => self.dispatch(plan, X32_SYSCALL_BIT),
                    None => {
                        let default = self.ret(self.default_ret);
                        self.asm.jump(JMP_JEQ_K, u32::MAX, default, bad_arch);
                    }
                }
            } else {
                for plan in members {
                    self.dispatch(plan, 0);
                }
            }
        }
        for (label, abi, rules) in std::mem::take(&mut self.blocks) {
            self.asm.place(label);
            self.argument_checks(abi, rules);
        }
        for (value, label) in std::mem::take(&mut self.returns) {
            self.asm.place(label);
            self.asm.stmt(RET_K, value);
        }
    }

    /// The syscall number is in the accumulator and at least `low`: jumps to its outcome.
    fn dispatch(&mut self, plan: &'p AbiPlan, low: u32) {
        let default = self.ret(self.default_ret);
        if self.enosys_stub
            && let Some(largest) = plan.largest
        {
            let enosys = self.ret(RET_ERRNO | ENOSYS);
            let next = self.asm.label();
            self.asm.jump(JMP_JGT_K, largest, enosys, next);
            self.asm.place(next);
        }
        // Ranges of numbers, each starting where its outcome starts; gaps get the default.
        let mut ranges: Vec<(u32, Label)> = vec![(low, default)];
        for (number, outcome) in &plan.syscalls {
            let target = match outcome {
                Outcome::Ret(value) => self.ret(*value),
                Outcome::Rules(rules) => {
                    let label = self.asm.label();
                    self.blocks.push((label, plan.abi, rules));
                    label
                }
            };
            match ranges.last_mut() {
                Some(last) if last.0 == *number => last.1 = target,
                _ => ranges.push((*number, target)),
            }
            if let Some(after) = number.checked_add(1) {
                ranges.push((after, default));
            }
        }
        ranges.dedup_by(|later, earlier| later.1 == earlier.1);
        self.search(&ranges);
    }

    /// Binary search over `ranges` (sorted, the first one's start already known to hold).
    fn search(&mut self, ranges: &[(u32, Label)]) {
        let target = self.subtree(ranges);
        // The subtree placed its own code unless the whole search is a single outcome.
        if ranges.len() == 1 {
            self.asm.goto(target);
        }
    }

    /// Emits the search over `ranges` here and returns the label to enter it by (a leaf emits
    /// nothing: its label is the outcome itself).
    fn subtree(&mut self, ranges: &[(u32, Label)]) -> Label {
        let (Some(first), Some(middle)) = (ranges.first(), ranges.get(ranges.len() / 2)) else {
            return self.ret(self.default_ret);
        };
        if ranges.len() == 1 {
            return first.1;
        }
        let here = self.asm.label();
        self.asm.place(here);
        let split = ranges.len() / 2;
        let node = self.asm.pending_jump(JMP_JGE_K, middle.0, here);
        let (lower, upper) = ranges.split_at(split);
        let below = self.subtree(lower);
        let above = self.subtree(upper);
        self.asm.retarget(node, above, below);
        here
    }

    /// Tries `rules` in order; the first whose conditions all hold gives its return value.
    fn argument_checks(&mut self, abi: Abi, rules: &[ConditionalRule]) {
        for rule in rules {
            let next_rule = self.asm.label();
            for condition in &rule.conditions {
                self.condition(abi, condition, next_rule);
            }
            let ret = self.ret(rule.ret);
            self.asm.goto(ret);
            self.asm.place(next_rule);
        }
        let default = self.ret(self.default_ret);
        self.asm.goto(default);
    }

    /// Falls through when `condition` holds, jumps to `fail` otherwise.
    fn condition(&mut self, abi: Abi, condition: &ArgCondition, fail: Label) {
        let low_offset = OFFSET_ARGS + 8 * condition.index;
        let high = |v: u64| (v >> 32) as u32;
        let low = |v: u64| (v & 0xffff_ffff) as u32;
        let (value, mask) = match condition.op {
            Op::MaskedEqual => (condition.value_two, condition.value),
            _ => (condition.value, u64::MAX),
        };
        let pass = self.asm.label();
        if abi.has_64bit_args() {
            // The high words decide unless they are equal; then the low words do.
            let low_words = self.asm.label();
            self.asm.stmt(LD_W_ABS, low_offset + 4);
            match condition.op {
                Op::EqualTo | Op::MaskedEqual => {
                    if condition.op == Op::MaskedEqual {
                        self.asm.stmt(ALU_AND_K, high(mask));
                    }
                    self.asm.jump(JMP_JEQ_K, high(value), low_words, fail);
                }
                Op::NotEqual => self.asm.jump(JMP_JEQ_K, high(value), low_words, pass),
                Op::GreaterThan | Op::GreaterOrEqual | Op::LessThan | Op::LessOrEqual => {
                    let greater = matches!(condition.op, Op::GreaterThan | Op::GreaterOrEqual);
                    let (above, below) = if greater { (pass, fail) } else { (fail, pass) };
                    let not_above = self.asm.label();
                    self.asm.jump(JMP_JGT_K, high(value), above, not_above);
                    self.asm.place(not_above);
                    self.asm.jump(JMP_JEQ_K, high(value), low_words, below);
                }
            }
            self.asm.place(low_words);
        }
        self.asm.stmt(LD_W_ABS, low_offset);
        let v = low(value);
        match condition.op {
            Op::EqualTo => self.asm.jump(JMP_JEQ_K, v, pass, fail),
            Op::NotEqual => self.asm.jump(JMP_JEQ_K, v, fail, pass),
            Op::GreaterThan => self.asm.jump(JMP_JGT_K, v, pass, fail),
            Op::GreaterOrEqual => self.asm.jump(JMP_JGE_K, v, pass, fail),
            Op::LessThan => self.asm.jump(JMP_JGE_K, v, fail, pass),
            Op::LessOrEqual => self.asm.jump(JMP_JGT_K, v, fail, pass),
            Op::MaskedEqual => {
                self.asm.stmt(ALU_AND_K, low(mask));
                self.asm.jump(JMP_JEQ_K, v, pass, fail);
            }
        };
        self.asm.place(pass);
    }
}

/// A position in the program, resolved when it is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label(usize);

#[derive(Debug)]
enum Item {
    Stmt {
        code: u16,
        k: u32,
    },
    Jump {
        code: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Goto(Label),
    Place(Label),
}

/// Collects instructions with symbolic forward jumps and resolves them. A conditional jump reaches
/// at most 255 instructions ahead; farther targets go through an unconditional jump placed right
/// after it.
#[derive(Debug, Default)]
struct Assembler {
    items: Vec<Item>,
    labels: usize,
}

impl Assembler {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    fn place(&mut self, label: Label) {
        self.items.push(Item::Place(label));
    }

    fn stmt(&mut self, code: u16, k: u32) {
        self.items.push(Item::Stmt { code, k });
    }

    fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label) {
        self.items.push(Item::Jump { code, k, jt, jf });
    }

    /// Adds a conditional jump whose targets [`Assembler::retarget`] gives later (they must come
    /// after it); returns its index.
    fn pending_jump(&mut self, code: u16, k: u32, placeholder: Label) -> usize {
        self.jump(code, k, placeholder, placeholder);
        self.items.len() - 1
    }

    fn retarget(&mut self, index: usize, true_target: Label, false_target: Label) {
        if let Some(Item::Jump { jt, jf, .. }) = self.items.get_mut(index) {
            *jt = true_target;
            *jf = false_target;
        }
    }

    fn goto(&mut self, label: Label) {
        self.items.push(Item::Goto(label));
    }

    fn finish(self) -> Result<Vec<sock_filter>, SeccompError> {
        const UNRESOLVED: &str = "a jump target was never placed or lies behind the jump";
        // Which conditional jumps need a trampoline for their true or false target. Marking one only
        // lengthens the program, so this settles.
        let mut long = vec![(false, false); self.items.len()];
        let (addresses, targets) = loop {
            let (addresses, targets) = self.layout(&long);
            let mut changed = false;
            for (index, item) in self.items.iter().enumerate() {
                let Item::Jump { jt, jf, .. } = item else {
                    continue;
                };
                let from = addresses.get(index).copied().unwrap_or(0) + 1;
                let distance = |label: &Label| {
                    targets
                        .get(label.0)
                        .copied()
                        .flatten()
                        .and_then(|to: usize| to.checked_sub(from))
                };
                let (Some(t), Some(f)) = (distance(jt), distance(jf)) else {
                    return Err(SeccompError::Internal(UNRESOLVED));
                };
                if let Some(flags) = long.get_mut(index) {
                    if t > 255 && !flags.0 {
                        flags.0 = true;
                        changed = true;
                    }
                    if f > 255 && !flags.1 {
                        flags.1 = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break (addresses, targets);
            }
        };
        let resolve = |label: Label, from: usize| -> Result<u32, SeccompError> {
            targets
                .get(label.0)
                .copied()
                .flatten()
                .and_then(|to| to.checked_sub(from))
                .and_then(|distance| u32::try_from(distance).ok())
                .ok_or(SeccompError::Internal(UNRESOLVED))
        };
        let short = |distance: u32| {
            u8::try_from(distance).map_err(|_| SeccompError::Internal("a jump is out of reach"))
        };
        let mut program = Vec::new();
        for (index, item) in self.items.iter().enumerate() {
            let address = addresses.get(index).copied().unwrap_or(0);
            match *item {
                Item::Place(_) => {}
                Item::Stmt { code, k } => program.push(instruction(code, 0, 0, k)),
                Item::Goto(label) => {
                    program.push(instruction(JMP_JA, 0, 0, resolve(label, address + 1)?));
                }
                Item::Jump { code, k, jt, jf } => {
                    let (long_true, long_false) = long.get(index).copied().unwrap_or_default();
                    // Trampolines follow the jump: the true target's first.
                    let true_offset = if long_true {
                        0
                    } else {
                        short(resolve(jt, address + 1)?)?
                    };
                    let false_offset = if long_false {
                        u8::from(long_true)
                    } else {
                        short(resolve(jf, address + 1)?)?
                    };
                    program.push(instruction(code, true_offset, false_offset, k));
                    let mut next = address + 1;
                    if long_true {
                        program.push(instruction(JMP_JA, 0, 0, resolve(jt, next + 1)?));
                        next += 1;
                    }
                    if long_false {
                        program.push(instruction(JMP_JA, 0, 0, resolve(jf, next + 1)?));
                    }
                }
            }
        }
        if program.len() > MAX_INSTRUCTIONS {
            return Err(SeccompError::TooLarge(program.len()));
        }
        Ok(program)
    }

    /// Each item's address and each label's, given which jumps take trampolines.
    fn layout(&self, long: &[(bool, bool)]) -> (Vec<usize>, Vec<Option<usize>>) {
        let mut addresses = Vec::with_capacity(self.items.len());
        let mut targets = vec![None; self.labels];
        let mut address = 0;
        for (index, item) in self.items.iter().enumerate() {
            addresses.push(address);
            match item {
                Item::Place(label) => {
                    if let Some(slot) = targets.get_mut(label.0) {
                        *slot = Some(address);
                    }
                }
                Item::Stmt { .. } | Item::Goto(_) => address += 1,
                Item::Jump { .. } => {
                    let (t, f) = long.get(index).copied().unwrap_or_default();
                    address += 1 + usize::from(t) + usize::from(f);
                }
            }
        }
        (addresses, targets)
    }
}

fn instruction(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}
