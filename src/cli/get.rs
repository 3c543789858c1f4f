//! `orcactl get KIND[,KIND...]|all [NAME] [-o wide|yaml|json|name|jsonpath=...|custom-columns=...]
//! [-l SEL] [--field-selector SEL] [-A] [-w]`.

use std::io::{BufRead, BufReader};

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::Value;

use orca_schemas::ResourceType;

use super::client::Client;
use super::table;

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Kind (pods, po, deploy, svc, ...) or KIND/NAME
    kind: String,
    /// Names
    names: Vec<String>,
    /// Output format: wide, yaml, json or name
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// Label selector (`app=web,tier in (a,b)`)
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Field selector (`status.phase=Running`)
    #[arg(long)]
    field_selector: Option<String>,
    /// All namespaces
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// After listing, watch for changes
    #[arg(short = 'w', long)]
    watch: bool,
    /// Show the objects as they were at this revision, or at this time (RFC 3339)
    #[arg(long)]
    at: Option<String>,
    /// Names shown as KIND/NAME (several kinds at once)
    #[arg(skip)]
    prefixed: bool,
}

/// Resolves a kind the way kubectl does (plural, singular, short name, Kind, `kind.group`), with
/// the nearest known name when there is none.
pub fn resolve(kind: &str) -> Result<&'static ResourceType> {
    let bare = kind.split('.').next().unwrap_or(kind);
    if let Some(rt) = orca_schemas::lookup(kind).or_else(|| orca_schemas::lookup(bare)) {
        return Ok(rt);
    }
    let names = orca_schemas::registry::RESOURCES
        .iter()
        .flat_map(|r| [r.plural, r.singular].into_iter().chain(r.short_names.iter().copied()));
    let nearest = names
        .map(|n| (distance(&bare.to_lowercase(), n), n))
        .min()
        .filter(|(d, _)| *d <= 2);
    match nearest {
        Some((_, n)) => Err(anyhow!(
            "the server doesn't have a resource type \"{kind}\"; did you mean \"{n}\"? (`orcactl api-resources` lists them)"
        )),
        None => Err(anyhow!(
            "the server doesn't have a resource type \"{kind}\"; `orcactl api-resources` lists them"
        )),
    }
}

/// Edit distance (Levenshtein) between two names.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The object `KIND NAME` or `KIND/NAME` names.
pub fn kind_and_name(target: &[String]) -> Result<(String, String)> {
    match target {
        [one] => one
            .split_once('/')
            .map(|(k, n)| (k.to_string(), n.to_string()))
            .ok_or_else(|| anyhow!("name the object as KIND NAME or KIND/NAME")),
        [k, n] => Ok((k.clone(), n.clone())),
        _ => Err(anyhow!("name the object as KIND NAME or KIND/NAME")),
    }
}

/// How kubectl names a kind in its messages: `pod`, `deployment.apps`.
pub fn qualified(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.singular.to_string()
    } else {
        format!("{}.{}", rt.singular, rt.group)
    }
}

/// Whether a table of several kinds' was printed already.
static PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The kinds of `kubectl get all`.
const ALL: &str = "pods,services,daemonsets,deployments,replicasets,statefulsets,jobs,cronjobs";

pub fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn run(client: &Client, ns_flag: Option<&str>, mut a: GetArgs) -> Result<i32> {
    if a.kind == "all" {
        a.kind = ALL.into();
    }
    if a.kind.contains(',') && !a.watch {
        let kinds: Vec<String> = a
            .kind
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        for kind in &kinds {
            let one = GetArgs {
                kind: kind.clone(),
                names: a.names.clone(),
                output: a.output.clone(),
                selector: a.selector.clone(),
                field_selector: a.field_selector.clone(),
                all_namespaces: a.all_namespaces,
                watch: false,
                at: a.at.clone(),
                prefixed: true,
            };
            run_one(client, ns_flag, one)?;
        }
        let quiet = matches!(a.output.as_deref(), None | Some("wide"));
        if quiet && !PRINTED.load(std::sync::atomic::Ordering::Relaxed) {
            match (a.all_namespaces, ns_flag) {
                (true, _) => eprintln!("No resources found"),
                (false, n) => eprintln!("No resources found in {} namespace.", n.unwrap_or("default")),
            }
        }
        return Ok(0);
    }
    run_one(client, ns_flag, a)
}

fn run_one(client: &Client, ns_flag: Option<&str>, a: GetArgs) -> Result<i32> {
    let (kind, mut names) = match a.kind.split_once('/') {
        Some((k, n)) => (k.to_string(), vec![n.to_string()]),
        None => (a.kind.clone(), Vec::new()),
    };
    names.extend(a.names.iter().cloned());
    let rt = resolve(&kind)?;
    let ns = if a.all_namespaces {
        None
    } else {
        Some(ns_flag.unwrap_or("default"))
    };
    let mut query = Vec::new();
    if let Some(l) = &a.selector {
        query.push(format!("labelSelector={}", encode(l)));
    }
    if let Some(f) = &a.field_selector {
        query.push(format!("fieldSelector={}", encode(f)));
    }
    let at = a.at.as_deref().map(|at| match at.parse::<u64>() {
        Ok(rev) => format!("resourceVersion={rev}&resourceVersionMatch=Exact"),
        Err(_) => format!("atTime={}", encode(at)),
    });
    if let Some(at) = &at {
        if a.watch {
            anyhow::bail!("--at shows the past and -w follows the present: use one of them");
        }
        query.push(at.clone());
    }
    let out = a.output.as_deref().unwrap_or("");
    let show_ns = a.all_namespaces && rt.namespaced;
    let (items, list_rv) = if names.is_empty() {
        let path = format!("{}?{}", rt.collection_path(ns), query.join("&"));
        let list = client.expect(client.send("GET", &path, None)?)?;
        let rv = list
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("0")
            .to_string();
        (list["items"].as_array().cloned().unwrap_or_default(), rv)
    } else {
        let mut items = Vec::new();
        for n in &names {
            let path = format!(
                "{}{}",
                rt.object_path(ns.or(Some("default")), n),
                at.as_ref().map(|q| format!("?{q}")).unwrap_or_default()
            );
            items.push(client.expect(client.send("GET", &path, None)?)?);
        }
        (items, String::new())
    };
    match out {
        "yaml" | "json" => {
            let v = if names.len() == 1 {
                items[0].clone()
            } else {
                serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": list_rv}, "items": items})
            };
            if out == "yaml" {
                print!("{}", serde_yaml_ng::to_string(&v)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
        }
        "name" => items
            .iter()
            .for_each(|i| println!("{}/{}", qualified(rt), i["metadata"]["name"].as_str().unwrap_or(""))),
        "" | "wide" => {
            if items.is_empty() && !a.watch {
                if !a.prefixed {
                    match ns {
                        Some(n) if rt.namespaced => eprintln!("No resources found in {n} namespace."),
                        _ => eprintln!("No resources found"),
                    }
                }
            } else if a.prefixed {
                // Tables of several kinds, a blank line between those that have rows.
                if PRINTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    println!();
                }
                let mut shown = items.clone();
                for i in &mut shown {
                    let name = i["metadata"]["name"].as_str().unwrap_or("").to_string();
                    i["metadata"]["name"] = Value::String(format!("{}/{name}", qualified(rt)));
                }
                print!("{}", table::render(rt, &shown, out == "wide", show_ns, true));
            } else {
                print!("{}", table::render(rt, &items, out == "wide", show_ns, true));
            }
        }
        o if o.starts_with("jsonpath=") || o.starts_with("jsonpath-as-json=") => {
            let t = o.split_once('=').map(|x| x.1).unwrap_or("").trim_matches('\'');
            let v = if names.len() == 1 {
                items[0].clone()
            } else {
                serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})
            };
            print!("{}", super::jsonpath::template(t, &v)?);
        }
        o if o.starts_with("custom-columns=") => {
            print!(
                "{}",
                super::jsonpath::custom_columns(&o["custom-columns=".len()..], &items)?
            );
        }
        other => {
            return Err(anyhow!(
                "unknown output format {other:?}: use wide, yaml, json, name, jsonpath=TEMPLATE or custom-columns=SPEC"
            ))
        }
    }
    if a.watch {
        let mut q = query.clone();
        q.push("watch=true".into());
        if !list_rv.is_empty() {
            q.push(format!("resourceVersion={list_rv}"));
        }
        let coll = rt.collection_path(ns);
        if names.len() == 1 {
            q.push(format!(
                "fieldSelector={}",
                encode(&format!("metadata.name={}", names[0]))
            ));
        }
        let resp = client.stream(&format!("{coll}?{}", q.join("&")))?;
        let mut header = items.is_empty();
        for line in BufReader::new(resp).lines() {
            let line = line?;
            let Ok(ev) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let obj = &ev["object"];
            match out {
                "yaml" => println!("---\n{}", serde_yaml_ng::to_string(obj)?.trim_end()),
                "json" => println!("{}", serde_json::to_string_pretty(obj)?),
                "name" => println!("{}/{}", rt.singular, obj["metadata"]["name"].as_str().unwrap_or("")),
                _ => {
                    print!(
                        "{}",
                        table::render(rt, std::slice::from_ref(obj), out == "wide", show_ns, header)
                    );
                    header = false;
                }
            }
        }
    }
    Ok(0)
}
