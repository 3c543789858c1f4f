//! The container's process: forked with its output on a pipe the monitor reads, then waited for
//! through a pidfd (or, on kernels without one, a short poll) while its output is copied to the
//! log.

use std::ffi::{c_int, CString, OsString};
use std::io::{Error, ErrorKind};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::output::Rotating;
use crate::sys;

/// A started child: its pid and the read end of its output pipe.
pub struct Child {
    pid: c_int,
    output: c_int,
}

/// Forks and executes `argv`; its stdout and stderr are one pipe, its stdin the FIFO at `stdin`
/// when that exists (opened for reading and writing, so it never ends while the container runs,
/// as an attached stdin stays open), else what the monitor was given.
pub fn spawn(argv: &[OsString], stdin: &Path) -> std::io::Result<Child> {
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|e| Error::new(ErrorKind::InvalidInput, e)))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const std::ffi::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let fifo = if stdin.exists() {
        let path = CString::new(stdin.as_os_str().as_bytes()).map_err(|e| Error::new(ErrorKind::InvalidInput, e))?;
        // SAFETY: a NUL-terminated path.
        Some(sys::check(unsafe {
            sys::open(path.as_ptr(), sys::O_RDWR | sys::O_CLOEXEC)
        })?)
    } else {
        None
    };
    let mut fds = [0 as c_int; 2];
    // SAFETY: fds has room for the two descriptors.
    sys::check(unsafe { sys::pipe2(fds.as_mut_ptr(), sys::O_CLOEXEC) })?;
    let failed = format!("orca-shim: cannot run {:?}: ", argv[0]);
    // SAFETY: the monitor is single-threaded; between fork and exec the child only duplicates
    // descriptors, resets signals and writes a message it was handed before the fork.
    let pid = sys::check(unsafe { sys::fork() })?;
    if pid == 0 {
        unsafe {
            sys::dup2(fds[1], 1);
            sys::dup2(fds[1], 2);
            if let Some(f) = fifo {
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
    // SAFETY: closing our copies of descriptors the child now holds.
    unsafe {
        sys::close(fds[1]);
        if let Some(f) = fifo {
            sys::close(f);
        }
        sys::fcntl(fds[0], sys::F_SETFL, sys::O_NONBLOCK);
    }
    Ok(Child { pid, output: fds[0] })
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

/// Copies the child's output to `log` until the child ends; returns its wait status. Output its
/// own children write after it ended is not waited for: the container is its main process.
pub fn pump(child: &Child, log: &mut Rotating) -> c_int {
    // SAFETY: pidfd_open takes a pid and flags.
    let pidfd = unsafe { sys::syscall(sys::SYS_PIDFD_OPEN, child.pid as std::ffi::c_long, 0 as c_int) } as c_int;
    let mut open = true;
    loop {
        let mut fds = [
            sys::PollFd {
                fd: if open { child.output } else { -1 },
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
            open = drain(child.output, log);
        }
        if pidfd < 0 || fds[1].revents != 0 {
            if let Some(status) = reap(child.pid, sys::WNOHANG) {
                if open {
                    drain(child.output, log);
                }
                return status;
            }
        }
    }
}
