//! The kubeconfig orcactl shares with kubectl (`$KUBECONFIG`, else `~/.kube/config`): the
//! current context's server and namespace, and `orcactl config view|current-context|
//! get-contexts|use-context NAME`.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;

/// A loaded kubeconfig and where it came from.
pub struct Kubeconfig {
    pub path: std::path::PathBuf,
    pub doc: Value,
}

/// What the current context names.
pub struct Current {
    pub server: String,
    pub namespace: Option<String>,
    /// The context's `cluster` and `user` entries (CA, client certificate, token).
    pub cluster: Value,
    pub user: Value,
}

impl Kubeconfig {
    /// The file kubectl would read.
    pub fn path() -> std::path::PathBuf {
        if let Some(first) = std::env::var("KUBECONFIG")
            .ok()
            .and_then(|k| k.split(':').find(|p| !p.is_empty()).map(str::to_string))
        {
            return first.into();
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
        std::path::PathBuf::from(home).join(".kube").join("config")
    }

    /// Reads it.
    pub fn load() -> Result<Kubeconfig> {
        Kubeconfig::load_from(Kubeconfig::path())
    }

    /// Reads the kubeconfig at `path`.
    pub fn load_from(path: std::path::PathBuf) -> Result<Kubeconfig> {
        let text = std::fs::read_to_string(&path).with_context(|| format!("no kubeconfig at {}", path.display()))?;
        let doc: Value =
            serde_yaml_ng::from_str(&text).with_context(|| format!("{} is not a kubeconfig", path.display()))?;
        Ok(Kubeconfig { path, doc })
    }

    fn named<'a>(&'a self, list: &str, name: &str) -> Option<&'a Value> {
        self.doc[list].as_array()?.iter().find(|e| e["name"] == name)
    }

    /// The current context, resolved.
    pub fn current(&self) -> Option<Current> {
        let name = self.doc["current-context"].as_str()?.to_string();
        let ctx = &self.named("contexts", &name)?["context"];
        let cluster = self.named("clusters", ctx["cluster"].as_str()?)?;
        let user = ctx["user"]
            .as_str()
            .and_then(|u| self.named("users", u))
            .map(|u| u["user"].clone())
            .unwrap_or(Value::Null);
        Some(Current {
            server: cluster["cluster"]["server"].as_str()?.to_string(),
            namespace: ctx["namespace"].as_str().map(str::to_string),
            cluster: cluster["cluster"].clone(),
            user,
        })
    }
}

/// The namespace of the current context, if the kubeconfig names one.
pub fn namespace() -> Option<String> {
    Kubeconfig::load().ok()?.current()?.namespace
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    what: ConfigVerb,
}

#[derive(Subcommand, Debug)]
enum ConfigVerb {
    /// Print the kubeconfig
    View,
    /// Print the current context's name
    CurrentContext,
    /// List the contexts (the current one starred)
    GetContexts,
    /// Make NAME the current context
    UseContext { name: String },
}

pub fn run(a: ConfigArgs) -> Result<i32> {
    let mut k = Kubeconfig::load()?;
    match a.what {
        ConfigVerb::View => print!("{}", serde_yaml_ng::to_string(&k.doc)?),
        ConfigVerb::CurrentContext => match k.doc["current-context"].as_str() {
            Some(c) => println!("{c}"),
            None => bail!("current-context is not set"),
        },
        ConfigVerb::GetContexts => {
            let current = k.doc["current-context"].as_str().unwrap_or("").to_string();
            let rows: Vec<Vec<String>> = k.doc["contexts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let name = c["name"].as_str().unwrap_or("").to_string();
                    let s = |f: &str| c["context"][f].as_str().unwrap_or("").to_string();
                    vec![
                        if name == current { "*".into() } else { String::new() },
                        name,
                        s("cluster"),
                        s("user"),
                        s("namespace"),
                    ]
                })
                .collect();
            let head = ["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"];
            let all = std::iter::once(head.iter().map(|h| h.to_string()).collect())
                .chain(rows)
                .collect();
            print!("{}", super::table::aligned(all));
        }
        ConfigVerb::UseContext { name } => {
            if k.named("contexts", &name).is_none() {
                return Err(anyhow!("no context exists with the name: \"{name}\""));
            }
            k.doc["current-context"] = Value::String(name.clone());
            std::fs::write(&k.path, serde_yaml_ng::to_string(&k.doc)?)?;
            println!("Switched to context \"{name}\".");
        }
    }
    Ok(0)
}
