//! The server's backup passphrase. While one is set, every backup (scheduled, "back up now", the
//! command line, the safety backup before a restore) is encrypted with it. It lives in
//! `<data dir>/backup-passphrase` (mode 0600), so it is a setting of the host, like the backup
//! directory; it goes into the (encrypted) archives with the other files of the data directory.
//!
//! Losing it means losing every encrypted backup, so it is set only after the administrator has
//! downloaded or written down the emergency kit and typed its last group back.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::Rng;

const FILE: &str = "backup-passphrase";
/// Letters and digits that cannot be mistaken for one another when read off paper.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const GROUPS: usize = 8;
const GROUP_LEN: usize = 4;
pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 200;

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The passphrase backups are made with, if one is set.
pub fn stored(data_dir: &Path) -> anyhow::Result<Option<String>> {
    let path = path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let p = s.trim_end_matches(['\n', '\r']).to_string();
            Ok((!p.is_empty()).then_some(p))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Sets the passphrase (atomically, readable by the service's user only).
pub fn store(data_dir: &Path, passphrase: &str) -> anyhow::Result<()> {
    crate::files::write_private(&path(data_dir), format!("{passphrase}\n").as_bytes())
}

/// Backups are made unencrypted from now on.
pub fn remove(data_dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path(data_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).context("cannot remove the backup passphrase")
        }
        _ => Ok(()),
    }
}

/// A new passphrase: eight groups of four easily read characters (about 158 bits).
pub fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..GROUPS)
        .map(|_| {
            (0..GROUP_LEN)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Why a passphrase chosen by the administrator cannot be used.
pub fn validate(passphrase: &str) -> Result<(), String> {
    let len = passphrase.chars().count();
    if passphrase.trim() != passphrase {
        return Err("the passphrase must not begin or end with a space".into());
    }
    if len < MIN_LEN {
        return Err(format!("use at least {MIN_LEN} characters"));
    }
    if len > MAX_LEN {
        return Err(format!("use at most {MAX_LEN} characters"));
    }
    if passphrase.chars().any(char::is_control) {
        return Err("the passphrase must be on one line, without control characters".into());
    }
    Ok(())
}

/// What the administrator types back to show they kept the passphrase: its last four
/// characters.
pub fn confirmation(passphrase: &str) -> String {
    let chars: Vec<char> = passphrase.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passphrases_are_valid_distinct_and_readable() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), GROUPS * GROUP_LEN + GROUPS - 1);
        assert!(validate(&a).is_ok());
        assert!(a.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert!(!a.contains(['0', 'o', '1', 'l', 'i']));
    }

    #[test]
    fn chosen_passphrases_are_checked() {
        assert!(validate("short").is_err());
        assert!(validate(" leading space here").is_err());
        assert!(validate("two\nlines of text").is_err());
        assert!(validate(&"x".repeat(MAX_LEN + 1)).is_err());
        assert!(validate("correct horse battery").is_ok());
        assert_eq!(confirmation("abcd-efgh-wxyz"), "wxyz");
        assert_eq!(confirmation("äöü"), "äöü");
    }

    #[test]
    fn stored_round_trip_and_removal() {
        let dir = std::env::temp_dir().join(format!("logbook-key-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(stored(&dir).unwrap(), None);
        store(&dir, "correct horse battery").unwrap();
        assert_eq!(
            stored(&dir).unwrap().as_deref(),
            Some("correct horse battery")
        );
        remove(&dir).unwrap();
        remove(&dir).unwrap();
        assert_eq!(stored(&dir).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
