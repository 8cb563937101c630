//! A scratch directory for fixture files, removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) struct TempDir {
    path: PathBuf,
    owned: bool,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "berth-cgroups-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path, owned: true }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A directory inside this one, removed with it.
    pub fn subdir(&self, name: &str) -> TempDir {
        let path = self.path.join(name);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path, owned: false }
    }

    pub fn write(&self, file: &str, content: &str) {
        std::fs::write(self.path.join(file), content).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
