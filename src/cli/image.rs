//! `orcactl image load FILE [--name NAME:TAG]` and `orcactl image ls`: this machine's image store, which
//! runc agents on this machine read (`orca agent --image-dir`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use orca_actors::node::images::{load, ImageStore};

#[derive(Args, Debug)]
pub struct ImageArgs {
    /// The image store [default: $ORCA_HOME/images]
    #[arg(long, global = true)]
    image_dir: Option<PathBuf>,
    #[command(subcommand)]
    verb: ImageVerb,
}

#[derive(Subcommand, Debug)]
enum ImageVerb {
    /// Load an OCI image layout or docker-save tarball (gzipped or not)
    Load {
        /// The tarball
        file: PathBuf,
        /// Name for an image the tarball does not name
        #[arg(long)]
        name: Option<String>,
    },
    /// List the images in the store
    #[command(alias = "list")]
    Ls,
}

fn store(dir: Option<PathBuf>) -> ImageStore {
    let home = std::env::var_os("ORCA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".orca"));
    ImageStore::new(dir.unwrap_or_else(|| home.join("images")))
}

pub fn run(a: ImageArgs) -> Result<i32> {
    let store = store(a.image_dir);
    match a.verb {
        ImageVerb::Load { file, name } => {
            let loaded = load::load(&store, &file, name.as_deref())
                .with_context(|| format!("failed to load {}", file.display()))?;
            for r in loaded {
                println!("Loaded image: {r}");
            }
        }
        ImageVerb::Ls => {
            let _ = orca_actors::node::images::builtin::ensure(&store);
            println!("{:<40} {:>10}", "IMAGE", "SIZE");
            for (r, size) in store.list() {
                println!("{:<40} {:>9.1}M", r, size as f64 / 1e6);
            }
        }
    }
    Ok(0)
}
