//! The seccomp profile of runc containers, the runtime default's system call set (Docker's and
//! containerd's): an allow list, everything else failing with EPERM. Beyond the list: `socket`
//! but for AF_VSOCK, `personality` with the harmless personas, `clone` without namespace flags;
//! `clone3` reports ENOSYS so that libc falls back to `clone`. Calls the default grants only with
//! a capability (mount, module loading, clock setting...) stay out, as containers here get only
//! runc's default capabilities.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator,
    LinuxSyscall, LinuxSyscallBuilder,
};

/// System calls a container may make with any arguments (one name a line).
const ALLOWED: &str = include_str!("seccomp_allowed.txt");

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
const AF_VSOCK: u64 = 40;
/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
const CLONE_NAMESPACES: u64 = 0x7E02_0000;
/// Personas a program may ask for: the default, UNAME26, ADDR_NO_RANDOMIZE (and both), and the
/// query (0xffffffff).
const PERSONAS: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

fn allow(names: &[&str]) -> LinuxSyscallBuilder {
    LinuxSyscallBuilder::default()
        .names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .action(LinuxSeccompAction::ScmpActAllow)
}

/// Allows `name` when its argument `index` compares to `value` by `op`; with a `mask`, the test is
/// `(arg & mask) == value`.
fn when(
    name: &str,
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    mask: Option<u64>,
) -> Result<LinuxSyscall, oci_spec::OciSpecError> {
    let arg = match mask {
        Some(m) => LinuxSeccompArgBuilder::default().value(m).value_two(value),
        None => LinuxSeccompArgBuilder::default().value(value),
    };
    allow(&[name]).args(vec![arg.index(index).op(op).build()?]).build()
}

/// The profile, on every x86 ABI (a 32-bit call is no way around it).
pub fn runtime_default() -> Result<LinuxSeccomp, oci_spec::OciSpecError> {
    let mut rules = vec![
        allow(&ALLOWED.split_whitespace().collect::<Vec<_>>()).build()?,
        when("socket", 0, LinuxSeccompOperator::ScmpCmpNe, AF_VSOCK, None)?,
        when(
            "clone",
            0,
            LinuxSeccompOperator::ScmpCmpMaskedEq,
            0,
            Some(CLONE_NAMESPACES),
        )?,
        LinuxSyscallBuilder::default()
            .names(vec!["clone3".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .errno_ret(ENOSYS)
            .build()?,
    ];
    for p in PERSONAS {
        rules.push(when("personality", 0, LinuxSeccompOperator::ScmpCmpEq, p, None)?);
    }
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(EPERM)
        .architectures(vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32])
        .syscalls(rules)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_allows_the_list_and_refuses_the_rest() {
        let p = runtime_default().unwrap();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(EPERM));
        let allowed: Vec<&String> = p
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
            .flat_map(|s| s.names())
            .collect();
        for name in ["read", "execve", "futex", "epoll_wait", "arch_prctl"] {
            assert!(allowed.iter().any(|n| *n == name), "{name}");
        }
        for name in [
            "mount",
            "unshare",
            "setns",
            "init_module",
            "bpf",
            "keyctl",
            "reboot",
            "pivot_root",
        ] {
            assert!(!allowed.iter().any(|n| *n == name), "{name} is refused");
        }
    }
}
