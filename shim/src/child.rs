//! The container's process: forked with its output on a pipe the monitor reads, then waited for
//! through a pidfd (or, on kernels without one, a short poll) while its output is copied to the
//! log.

use std::ffi::{c_int, CString, OsString};
use std::io::{Error, ErrorKind};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::output::Rotating;
use crate::sys;

/// The pipe every process the monitor starts writes its output into; the monitor keeps the write
/// end too (it never waits for the pipe to close: a container's main process ending is the end).
pub struct Output {
    read: c_int,
    write: c_int,
}

impl Output {
    pub fn new() -> std::io::Result<Output> {
        let mut fds = [0 as c_int; 2];
        // SAFETY: fds has room for the two descriptors.
        sys::check(unsafe { sys::pipe2(fds.as_mut_ptr(), sys::O_CLOEXEC) })?;
        // SAFETY: a descriptor we own.
        unsafe { sys::fcntl(fds[0], sys::F_SETFL, sys::O_NONBLOCK) };
        Ok(Output {
            read: fds[0],
            write: fds[1],
        })
    }
}

/// The container's stdin: the FIFO at `path` when that exists (opened for reading and writing, so
/// it never ends while the container runs, as an attached stdin stays open).
pub fn stdin(path: &Path) -> std::io::Result<Option<c_int>> {
    if !path.exists() {
        return Ok(None);
    }
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|e| Error::new(ErrorKind::InvalidInput, e))?;
    // SAFETY: a NUL-terminated path.
    Ok(Some(sys::check(unsafe {
        sys::open(path.as_ptr(), sys::O_RDWR | sys::O_CLOEXEC)
    })?))
}

/// Forks and executes `argv` with stdout and stderr on `out` and stdin `input` (else what the
/// monitor was given); returns the child's pid.
pub fn spawn(argv: &[OsString], input: Option<c_int>, out: &Output) -> std::io::Result<c_int> {
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|e| Error::new(ErrorKind::InvalidInput, e)))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const std::ffi::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let failed = format!("orca-shim: cannot run {:?}: ", argv[0]);
    // SAFETY: the monitor is single-threaded; between fork and exec the child only duplicates
    // descriptors, resets signals and writes a message it was handed before the fork.
    let pid = sys::check(unsafe { sys::fork() })?;
    if pid == 0 {
        unsafe {
            sys::dup2(out.write, 1);
            sys::dup2(out.write, 2);
            if let Some(f) = input {
                sys::dup2(f, 0);
            }
            for sig in [sys::SIGTERM, sys::SIGINT, sys::SIGHUP] {
                sys::signal(sig, sys::SIG_DFL);
            }
            sys::execvp(ptrs[0], ptrs.as_ptr());
            let err = Error::last_os_error();
            let code = if err.kind() == ErrorKind::NotFound { 127 } else { 126 };
            sys::write(2, failed.as_ptr().cast(), failed.len());
            let msg = err.to_string();
            sys::write(2, msg.as_ptr().cast(), msg.len());
            sys::write(2, b"\n".as_ptr().cast(), 1);
            sys::_exit(code)
        }
    }
    Ok(pid)
}

/// Copies whatever the pipe holds now into `log`; false once every writer has closed it.
fn drain(fd: c_int, log: &mut Rotating) -> bool {
    let mut buf = [0u8; 16 * 1024];
    loop {
        // SAFETY: reads into a buffer of the given length.
        let n = unsafe { sys::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return false,
            n if n > 0 => log.write(&buf[..n as usize]),
            // Nothing more for now (or interrupted): the pipe stays open.
            _ => {
                let kind = Error::last_os_error().kind();
                return kind == ErrorKind::WouldBlock || kind == ErrorKind::Interrupted;
            }
        }
    }
}

/// The child's wait status, once it has ended, if it has.
fn reap(pid: c_int, flags: c_int) -> Option<c_int> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out pointer.
        let r = unsafe { sys::waitpid(pid, &mut status, flags) };
        if r == pid {
            return Some(status);
        }
        if r == 0 || Error::last_os_error().kind() != ErrorKind::Interrupted {
            return None;
        }
    }
}

/// Copies output to `log` until the process `pid` (a child of the monitor) ends; returns its wait
/// status. Output its own children write after it ended is not waited for: the container is its
/// main process.
pub fn pump(pid: c_int, out: &Output, log: &mut Rotating) -> c_int {
    // SAFETY: pidfd_open takes a pid and flags.
    let pidfd = unsafe { sys::syscall(sys::SYS_PIDFD_OPEN, pid as std::ffi::c_long, 0 as c_int) } as c_int;
    let mut open = true;
    let status = loop {
        let mut fds = [
            sys::PollFd {
                fd: if open { out.read } else { -1 },
                events: sys::POLLIN,
                revents: 0,
            },
            sys::PollFd {
                fd: pidfd,
                events: sys::POLLIN,
                revents: 0,
            },
        ];
        let timeout = if pidfd < 0 { 100 } else { -1 };
        // SAFETY: two valid poll entries (a negative fd is skipped by poll).
        unsafe { sys::poll(fds.as_mut_ptr(), 2, timeout) };
        if open && fds[0].revents != 0 {
            open = drain(out.read, log);
        }
        if pidfd < 0 || fds[1].revents != 0 {
            if let Some(status) = reap(pid, sys::WNOHANG) {
                if open {
                    drain(out.read, log);
                }
                break status;
            }
        }
    };
    if pidfd >= 0 {
        // SAFETY: our own descriptor.
        unsafe { sys::close(pidfd) };
    }
    status
}
