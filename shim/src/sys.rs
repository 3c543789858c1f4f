//! The few C library calls the monitor makes beyond the standard library (the C library std
//! already links), with the Linux constants they take.

use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};
use std::io::{Error, Result};

pub const O_RDWR: c_int = 2;
pub const O_NONBLOCK: c_int = 0o4000;
pub const O_CLOEXEC: c_int = 0o2000000;
pub const F_SETFL: c_int = 4;
pub const POLLIN: i16 = 0x1;
pub const WNOHANG: c_int = 1;
pub const CLONE_NEWNS: c_int = 0x20000;
pub const MS_RDONLY: c_ulong = 1;
pub const MS_REMOUNT: c_ulong = 32;
pub const MS_BIND: c_ulong = 4096;
pub const MS_REC: c_ulong = 16384;
pub const MS_PRIVATE: c_ulong = 1 << 18;
pub const SIGHUP: c_int = 1;
pub const SIGINT: c_int = 2;
pub const SIGTERM: c_int = 15;
pub const SIG_IGN: usize = 1;
pub const SIG_DFL: usize = 0;
/// `pidfd_open(2)`: the same number on every Linux architecture.
pub const SYS_PIDFD_OPEN: c_long = 434;

#[repr(C)]
pub struct PollFd {
    pub fd: c_int,
    pub events: i16,
    pub revents: i16,
}

extern "C" {
    pub fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    pub fn fork() -> c_int;
    pub fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int;
    pub fn _exit(code: c_int) -> !;
    pub fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    pub fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    pub fn dup2(old: c_int, new: c_int) -> c_int;
    pub fn close(fd: c_int) -> c_int;
    pub fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    pub fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    pub fn poll(fds: *mut PollFd, n: c_ulong, timeout: c_int) -> c_int;
    pub fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    pub fn syscall(n: c_long, ...) -> c_long;
    pub fn unshare(flags: c_int) -> c_int;
    pub fn mount(
        source: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
    pub fn signal(sig: c_int, handler: usize) -> usize;
    /// Variadic in C: callers pass all four arguments as `c_ulong` (the kernel reads them whole).
    pub fn prctl(option: c_int, ...) -> c_int;
}

/// `Ok(r)` for a non-negative result, else the OS error.
pub fn check(r: c_int) -> Result<c_int> {
    if r < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(r)
    }
}
