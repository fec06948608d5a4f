//! Password hashing (argon2id, m=19456 KiB, t=2, p=1) and the password policy. Each hash needs
//! 19 MiB: a fixed set of workers (two on a Pi) each reuse theirs while sign-ins keep coming
//! and give it back when idle, so memory stays bounded however many members sign in at once.

use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::{
    self, Output, ParamsString, PasswordHash, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::error::{AppError, AppResult};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

/// Common passwords long enough to pass the length rule; refused outright.
const BLOCKLIST: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789123",
    "111111111111",
    "000000000000",
    "password1234",
    "password12345",
    "password123!",
    "passwordpassword",
    "qwertyuiop12",
    "qwertyuiopasdf",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "iloveyou1234",
    "abcdefghijkl",
    "abc123456789",
    "letmein12345",
    "welcome12345",
    "welcome123!!",
    "changeme1234",
    "administrator",
    "firefighter1",
    "firefighter123",
    "firedepartment",
    "firefighter!",
    "engine123456",
    "station12345",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "sunshine1234",
    "princess1234",
    "monkey123456",
    "dragon123456",
    "master123456",
    "superman1234",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "aaaaaaaaaaaa",
    "logbooklogbook",
    "logbook12345",
    "password1!password1!",
];

/// Hashes and verifies passwords on a fixed set of long-lived worker threads, each with its own
/// argon2 memory (19 MiB) allocated at its first job and reused while jobs keep coming, given
/// back after a few idle seconds. Memory under any number of sign-ins is therefore the
/// workers' blocks and no more, and back to idle soon after: a fresh blocking thread per hash
/// left its allocator arena holding 19 MiB after each one (hundreds of MiB after a room full of
/// members signed in at once). A semaphore with one permit per worker keeps the queue as short
/// as the workers are many; callers wait asynchronously. Each worker has a channel of its own
/// (so that an idle one can time out and free its memory without holding a lock the others
/// wait on), and a job goes to a worker on the idle list; the permit travels with the job and
/// is given back only once the worker is idle again, even when the caller has gone.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    workers: Arc<Vec<mpsc::Sender<Job>>>,
    idle: Arc<Mutex<Vec<usize>>>,
    /// A real hash of a random value, verified against when no account matched, so that a
    /// wrong username takes as long as a wrong password.
    dummy_hash: Arc<String>,
}

/// One piece of work for a hashing worker, with where to send the answer, and the permit it
/// holds until the worker is free again.
struct Job {
    work: Work,
    permit: OwnedSemaphorePermit,
}

enum Work {
    Hash {
        password: String,
        reply: oneshot::Sender<anyhow::Result<String>>,
    },
    Verify {
        password: String,
        hash: String,
        reply: oneshot::Sender<bool>,
    },
}

fn params() -> Params {
    Params::new(19_456, 2, 1, None).expect("argon2 parameters are valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// A new argon2id hash of `password` in PHC form, computed in `memory`.
fn hash_in(memory: &mut [Block], password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hasher = argon2();
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        hasher
            .hash_password_into_with_memory(password.as_bytes(), raw_salt, out, &mut *memory)
            .map_err(password_hash::Error::from)
    })
    .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params())
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` is the one `hash` (PHC form) was made from, computed in `memory` when
/// the hash's parameters fit in it (every hash Logbook makes), else with memory of its own.
fn verify_in(memory: &mut [Block], password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .ok()
        .flatten()
        .unwrap_or_default();
    let blocks = params.block_count();
    if blocks > memory.len() {
        return argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let hasher = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        hasher
            .hash_password_into_with_memory(
                password.as_bytes(),
                raw_salt,
                out,
                &mut memory[..blocks],
            )
            .map_err(password_hash::Error::from)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|c| c == expected)
}

/// How long a worker keeps its memory with nothing to do: long enough for a room full of
/// members signing in to reuse it, short enough that the server is back to its idle size soon
/// after.
const KEEP_MEMORY: std::time::Duration = std::time::Duration::from_secs(5);

/// Worker `me`: takes jobs from its channel until the `Hasher` is gone, on memory allocated for
/// the first job and reused while jobs keep coming; idle for `KEEP_MEMORY`, it gives the memory
/// back (a block this large is its own mapping, so the system gets it back at once).
fn work(me: usize, jobs: mpsc::Receiver<Job>, idle: Arc<Mutex<Vec<usize>>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = if memory.is_empty() {
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        } else {
            match jobs.recv_timeout(KEEP_MEMORY) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    memory = Vec::new();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        };
        if memory.is_empty() {
            memory = vec![Block::default(); params().block_count()];
        }
        let Job { work, permit } = job;
        // Free again before the answer goes out: whoever gets the permit next finds this
        // worker on the idle list.
        let free = |permit: OwnedSemaphorePermit| {
            idle.lock().unwrap_or_else(|p| p.into_inner()).push(me);
            drop(permit);
        };
        match work {
            Work::Hash { password, reply } => {
                let answer = hash_in(&mut memory, &password);
                free(permit);
                let _ = reply.send(answer);
            }
            Work::Verify {
                password,
                hash,
                reply,
            } => {
                let answer = verify_in(&mut memory, &password, &hash);
                free(permit);
                let _ = reply.send(answer);
            }
        }
    }
}

/// glibc serves a large allocation with a mapping of its own, returned to the system when it is
/// freed, but after the first such free it raises that threshold to the freed size: every later
/// 19 MiB block then came from a thread's heap and stayed there (60 MiB a minute after a storm
/// of sign-ins). A fixed threshold keeps every large block its own mapping. musl (the Pi's
/// static build) maps large blocks always.
fn keep_large_blocks_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; 1 MiB is a valid threshold.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

impl Hasher {
    /// `workers` threads (at least one), each hashing one password at a time.
    pub fn new(workers: usize) -> anyhow::Result<Self> {
        keep_large_blocks_mapped();
        let workers = workers.max(1);
        let idle = Arc::new(Mutex::new((0..workers).collect::<Vec<_>>()));
        let mut senders = Vec::with_capacity(workers);
        for n in 0..workers {
            let (tx, rx) = mpsc::channel();
            let idle = idle.clone();
            std::thread::Builder::new()
                .name(format!("logbook-hash-{n}"))
                .spawn(move || work(n, rx, idle))?;
            senders.push(tx);
        }
        let mut memory = vec![Block::default(); params().block_count()];
        let dummy = hash_in(&mut memory, "not a real password, only for timing")?;
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(workers)),
            workers: Arc::new(senders),
            idle,
            dummy_hash: Arc::new(dummy),
        })
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        let (reply, answer) = oneshot::channel();
        self.send(|permit| Job {
            work: Work::Hash { password, reply },
            permit,
        })
        .await?;
        answer
            .await
            .map_err(anyhow::Error::new)?
            .map_err(AppError::Internal)
    }

    /// Verifies against `hash`, or against the dummy hash when there is none (same cost).
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let (hash, real) = match hash {
            Some(h) => (h, true),
            None => (self.dummy_hash.as_ref().clone(), false),
        };
        let (reply, answer) = oneshot::channel();
        self.send(|permit| Job {
            work: Work::Verify {
                password,
                hash,
                reply,
            },
            permit,
        })
        .await?;
        let ok = answer.await.map_err(anyhow::Error::new)?;
        Ok(ok && real)
    }

    /// Waits for a free worker (its permit) and gives it the job.
    async fn send(&self, job: impl FnOnce(OwnedSemaphorePermit) -> Job) -> AppResult<()> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(anyhow::Error::new)?;
        // A permit means a worker on the idle list: it goes back there before its permit does.
        let worker = self
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no password worker is free")))?;
        self.workers[worker]
            .send(job(permit))
            .map_err(|_| AppError::Internal(anyhow::anyhow!("the password workers have stopped")))
    }
}

/// A password that meets the policy: 12–256 characters, not on the blocklist, not the username.
/// No composition rules (NIST SP 800-63B).
#[derive(Debug, Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(field: &str, candidate: &str, username: &str) -> AppResult<Self> {
        let len = candidate.chars().count();
        let problem = if len < MIN_LENGTH {
            Some(format!("must be at least {MIN_LENGTH} characters"))
        } else if len > MAX_LENGTH {
            Some(format!("must be at most {MAX_LENGTH} characters"))
        } else if BLOCKLIST.contains(&candidate.to_lowercase().as_str()) {
            Some("is too common; choose another".to_string())
        } else if !username.is_empty()
            && candidate.to_lowercase().contains(&username.to_lowercase())
        {
            Some("must not contain the username".to_string())
        } else if candidate
            .chars()
            .all(|c| c == candidate.chars().next().unwrap_or(' '))
        {
            Some("must not be one repeated character".to_string())
        } else {
            None
        };
        match problem {
            Some(message) => Err(AppError::field(field, message)),
            None => Ok(NewPassword(candidate.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(NewPassword::parse("p", "short", "bob").is_err());
        assert!(NewPassword::parse("p", "Password1234", "bob").is_err());
        assert!(NewPassword::parse("p", "bobbobbob-is-me", "bob").is_err());
        assert!(NewPassword::parse("p", "zzzzzzzzzzzzzz", "bob").is_err());
        assert!(NewPassword::parse("p", "correct horse battery", "bob").is_ok());
    }

    #[test]
    fn hash_and_verify_in_reused_memory_agree_with_the_argon2_crate() {
        let mut memory = vec![Block::default(); params().block_count()];
        let h = hash_in(&mut memory, "correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        // The same memory, dirty from the run before, for the next ones.
        assert!(verify_in(&mut memory, "correct horse battery", &h));
        assert!(!verify_in(&mut memory, "wrong horse battery", &h));
        // The crate's own verifier reads our hash, and we read the crate's.
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(
            argon2()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = argon2()
            .hash_password(b"ladder truck", &salt)
            .unwrap()
            .to_string();
        assert!(verify_in(&mut memory, "ladder truck", &theirs));
        assert!(!verify_in(&mut memory, "ladder truck!", &theirs));
        // Other parameters (a hash from elsewhere, cheaper or dearer) are verified too.
        for (m, t) in [(8_192, 1), (32_768, 2)] {
            let other = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(m, t, 1, None).unwrap(),
            );
            let theirs = other
                .hash_password(b"pump panel", &salt)
                .unwrap()
                .to_string();
            assert!(verify_in(&mut memory, "pump panel", &theirs), "m={m}");
            assert!(!verify_in(&mut memory, "pump panel.", &theirs), "m={m}");
        }
        assert!(!verify_in(&mut memory, "x", "not a hash"));
        assert!(!verify_in(
            &mut memory,
            "x",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA"
        ));
    }

    #[tokio::test]
    async fn the_workers_answer_many_callers_at_once() {
        let hasher = Hasher::new(2).unwrap();
        let hash = hasher.hash("correct horse battery".into()).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (hasher, hash) = (hasher.clone(), hash.clone());
            tasks.push(tokio::spawn(async move {
                let password = if i % 2 == 0 {
                    "correct horse battery"
                } else {
                    "wrong horse battery"
                };
                (i, hasher.verify(password.into(), Some(hash)).await.unwrap())
            }));
        }
        for task in tasks {
            let (i, ok) = task.await.unwrap();
            assert_eq!(ok, i % 2 == 0, "caller {i}");
        }
        // No account: the dummy hash is checked, and the answer is always no.
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }
}
