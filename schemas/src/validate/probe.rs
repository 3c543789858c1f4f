//! Validation of probes: exactly one handler, ports, schemes, and timing bounds.

use super::{Errors, Path};
use crate::kinds::pod::Probe;
use crate::meta::IntOrString;

pub fn validate_probe(probe: &Probe, p: &Path, field: &str, errs: &mut Errors) {
    let handlers = [
        probe.exec.is_some(),
        probe.http_get.is_some(),
        probe.tcp_socket.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    match handlers {
        0 => errs.required(p, "must specify a handler type (exec, httpGet or tcpSocket)"),
        1 => {}
        _ => errs.forbidden(p, "may not specify more than 1 handler type"),
    }
    if let Some(e) = &probe.exec {
        if e.command.is_empty() {
            errs.required(&p.child("exec").child("command"), "");
        }
    }
    let check_port = |port: &IntOrString, pp: &Path, errs: &mut Errors| match port {
        IntOrString::Int(n) => errs.port(pp, *n),
        IntOrString::Str(s) if s.is_empty() => errs.required(pp, ""),
        IntOrString::Str(_) => {}
    };
    if let Some(h) = &probe.http_get {
        check_port(&h.port, &p.child("httpGet").child("port"), errs);
        if let Some(s) = &h.scheme {
            errs.one_of(&p.child("httpGet").child("scheme"), s, &["HTTP", "HTTPS"]);
        }
    }
    if let Some(t) = &probe.tcp_socket {
        check_port(&t.port, &p.child("tcpSocket").child("port"), errs);
    }
    for (name, v, min) in [
        ("initialDelaySeconds", probe.initial_delay_seconds, 0),
        ("periodSeconds", probe.period_seconds, 1),
        ("timeoutSeconds", probe.timeout_seconds, 1),
        ("successThreshold", probe.success_threshold, 1),
        ("failureThreshold", probe.failure_threshold, 1),
    ] {
        if let Some(v) = v {
            errs.at_least(&p.child(name), v, min);
        }
    }
    if field != "readinessProbe" && probe.success_threshold.is_some_and(|s| s != 1) {
        errs.invalid(
            &p.child("successThreshold"),
            probe.success_threshold.unwrap_or(1),
            "must be 1",
        );
    }
}
