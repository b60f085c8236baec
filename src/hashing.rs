//! Password hashing: argon2id on a small pool of dedicated threads.
//!
//! This module owns everything about stored password hashes: the argon2 parameters, the
//! PHC string format (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`, readable by the argon2
//! crate's own `PasswordVerifier`), salts, constant-time comparison, and the pool that
//! runs the work.
//!
//! Why a pool: one argon2id computation at OWASP parameters costs ~17 ms of CPU. Run on
//! the async executor, a burst of sign-ins would stall every other request, so the work
//! goes to `threads` dedicated OS threads fed by a bounded queue. When the queue is full,
//! callers get [`HashError::Busy`] at once instead of waiting, so a login flood turns into
//! "try again shortly" answers while token, userinfo and discovery requests stay fast.
//!
//! Each worker keeps its argon2 memory block (19 MiB at OWASP parameters) between jobs:
//! fresh pages from the allocator for every verification cost up to twice the hashing
//! itself (see `shared/PERFORMANCE.md`).

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

/// Salt length of new hashes, in bytes.
const SALT_LEN: usize = 16;
/// Output length of new hashes, in bytes.
const OUTPUT_LEN: usize = 32;
/// Largest memory cost accepted, for the pool or for a stored hash (4 GiB, which covers
/// RFC 9106's first recommended setting): a corrupt stored hash must not be able to ask
/// for terabytes.
const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory cost in KiB (argon2 `m`).
    pub memory_kib: u32,
    /// Number of passes over the memory (argon2 `t`).
    pub iterations: u32,
    /// Number of lanes (argon2 `p`). Lanes are computed one after another on the worker's
    /// thread; the pool gets its parallelism from running several workers instead.
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP's minimum recommendation for argon2id: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: Argon2Params = Argon2Params {
        memory_kib: 19456,
        iterations: 2,
        parallelism: 1,
    };

    fn to_argon2(self) -> Result<Params, HashError> {
        check_memory(self.memory_kib).map_err(HashError::InvalidParams)?;
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| HashError::InvalidParams(format!("{e} ({self:?})")))
    }
}

/// Why hashing or verifying a password failed. No variant ever carries the password.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every worker is busy and the queue is full; the caller should ask the user to try
    /// again shortly.
    #[error("password hashing is at capacity; try again shortly")]
    Busy,
    /// The stored hash is not a PHC string this module can verify.
    #[error("malformed password hash: {0}")]
    Malformed(String),
    /// The argon2 parameters are out of range.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),
    /// Something that should not happen: allocation failure, a failed random source, or a
    /// worker thread that stopped.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// A pool of argon2 worker threads. Cheap to clone (all clones share the same pool); the
/// workers end once the last clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Argon2Params,
    argon2_params: Params,
    jobs: SyncSender<Job>,
    threads: usize,
    max_queued: usize,
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, HashError>>,
    },
    Verify {
        password: String,
        phc: Option<String>,
        reply: oneshot::Sender<Result<bool, HashError>>,
    },
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .field("threads", &self.inner.threads)
            .field("max_queued", &self.inner.max_queued)
            .finish()
    }
}

impl PasswordHasher {
    /// Starts `threads` workers (at least 1) with a queue of at most `max_queued` waiting jobs.
    ///
    /// Workers allocate their memory block on their first job, so an idle server does not
    /// hold it.
    ///
    /// # Errors
    /// [`HashError::InvalidParams`] if `params` are outside argon2's ranges or ask for more
    /// than 4 GiB; [`HashError::Internal`] if the random source or a thread cannot be started.
    pub fn new(params: Argon2Params, threads: usize, max_queued: usize) -> Result<Self, HashError> {
        Self::start(params, threads, max_queued).map(|(hasher, _workers)| hasher)
    }

    /// [`PasswordHasher::new`], also handing back the workers' handles (tests join them).
    fn start(
        params: Argon2Params,
        threads: usize,
        max_queued: usize,
    ) -> Result<(Self, Vec<JoinHandle<()>>), HashError> {
        let argon2_params = params.to_argon2()?;
        let dummy: Arc<str> = dummy_phc(&argon2_params)?.into();
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::sync_channel(max_queued);
        // std's Receiver is single-consumer: the workers take turns waiting on it.
        let queue = Arc::new(Mutex::new(queue));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let worker = Worker {
                argon2: argon2_for(&argon2_params),
                keep_blocks: argon2_params.block_count(),
                memory: Vec::new(),
                dummy: Arc::clone(&dummy),
            };
            let queue = Arc::clone(&queue);
            let handle = thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker.run(&queue))
                .map_err(|e| HashError::Internal(format!("cannot start a hashing thread: {e}")))?;
            handles.push(handle);
        }
        tracing::debug!(
            threads,
            max_queued,
            memory_kib = params.memory_kib,
            iterations = params.iterations,
            parallelism = params.parallelism,
            "password hashing pool started"
        );
        let inner = Inner {
            params,
            argon2_params,
            jobs,
            threads,
            max_queued,
        };
        Ok((
            Self {
                inner: Arc::new(inner),
            },
            handles,
        ))
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// Hashes `password` on a worker into a PHC string with a fresh 16-byte salt.
    ///
    /// # Errors
    /// [`HashError::Busy`] at once if the queue is full; [`HashError::Internal`] if the
    /// hashing itself fails or the worker stops.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.map_err(|_| worker_stopped())?
    }

    /// Ok(true) only if `phc` is Some and matches. None = unknown account: same cost, Ok(false).
    ///
    /// A hash made with other parameters than the pool's (an older one) verifies too.
    ///
    /// # Errors
    /// [`HashError::Busy`] at once if the queue is full; [`HashError::Malformed`] or
    /// [`HashError::InvalidParams`] if `phc` cannot be verified; [`HashError::Internal`] if
    /// the worker fails.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            phc,
            reply,
        })?;
        answer.await.map_err(|_| worker_stopped())?
    }

    /// Synchronous, on the caller's thread (CLI, bulk import, benchmarks).
    ///
    /// Allocates its memory block for each call; it does not use or wait for the pool.
    ///
    /// # Errors
    /// [`HashError::Internal`] if allocation, the random source or argon2 fails.
    pub fn hash_blocking(&self, password: &str) -> Result<String, HashError> {
        let params = &self.inner.argon2_params;
        let mut memory = Vec::new();
        grow(&mut memory, params.block_count())?;
        hash_with_memory(&argon2_for(params), password, &mut memory)
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        match self.inner.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                tracing::debug!("password hashing queue full; answering busy");
                Err(HashError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => Err(HashError::Internal(
                "the hashing workers have stopped".into(),
            )),
        }
    }
}

/// Synchronous verification on the caller's thread with a caller-owned memory block (for the
/// benchmark's raw baseline and tests).
///
/// `memory` grows to the size `phc` needs and is never shrunk, so passing the same vector
/// again avoids allocating. Returns Ok(false) for a wrong password.
///
/// # Errors
/// [`HashError::Malformed`] if `phc` is not an argon2 PHC string with salt and hash;
/// [`HashError::InvalidParams`] if its memory cost is above 4 GiB; [`HashError::Internal`]
/// if allocation or argon2 fails.
pub fn verify_with_memory(
    password: &str,
    phc: &str,
    memory: &mut Vec<Block>,
) -> Result<bool, HashError> {
    let stored = StoredHash::parse(phc)?;
    grow(memory, stored.block_count())?;
    stored.matches(password, memory)
}

/// One worker thread's state.
struct Worker {
    argon2: Argon2<'static>,
    /// Size of the block kept between jobs: what the pool's parameters need.
    keep_blocks: usize,
    memory: Vec<Block>,
    dummy: Arc<str>,
}

impl Worker {
    fn run(mut self, queue: &Mutex<Receiver<Job>>) {
        loop {
            let job = {
                let Ok(receiver) = queue.lock() else {
                    tracing::error!("password hashing queue lock poisoned; worker stopping");
                    return;
                };
                match receiver.recv() {
                    Ok(job) => job,
                    // Every sender is gone: the PasswordHasher was dropped.
                    Err(_) => return,
                }
            };
            // A panic drops the job's reply sender, so its caller gets an error; the worker
            // itself keeps serving.
            if panic::catch_unwind(AssertUnwindSafe(|| self.handle(job))).is_err() {
                tracing::error!("a password hashing job panicked");
            }
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Hash { password, reply } => {
                // The caller gave up (client gone): skip the work.
                if reply.is_closed() {
                    return;
                }
                let mut spare = Vec::new();
                let result = memory_for(
                    &mut self.memory,
                    self.keep_blocks,
                    self.keep_blocks,
                    &mut spare,
                )
                .and_then(|blocks| hash_with_memory(&self.argon2, &password, blocks));
                let _ = reply.send(result);
            }
            Job::Verify {
                password,
                phc,
                reply,
            } => {
                if reply.is_closed() {
                    return;
                }
                let result = match phc {
                    Some(phc) => self.verify(&password, &phc),
                    None => {
                        // Same work as a real account, so timing does not reveal which
                        // accounts exist.
                        let dummy = Arc::clone(&self.dummy);
                        let _ = self.verify(&password, &dummy);
                        Ok(false)
                    }
                };
                let _ = reply.send(result);
            }
        }
    }

    fn verify(&mut self, password: &str, phc: &str) -> Result<bool, HashError> {
        let stored = StoredHash::parse(phc)?;
        let mut spare = Vec::new();
        let blocks = memory_for(
            &mut self.memory,
            self.keep_blocks,
            stored.block_count(),
            &mut spare,
        )?;
        stored.matches(password, blocks)
    }
}

/// Memory for a computation needing `needed` blocks: the worker's `kept` block when that is
/// big enough (grown to `keep` blocks on first use), otherwise a one-off allocation in
/// `spare` (a stored hash with a larger memory cost than the pool's).
fn memory_for<'a>(
    kept: &'a mut Vec<Block>,
    keep: usize,
    needed: usize,
    spare: &'a mut Vec<Block>,
) -> Result<&'a mut [Block], HashError> {
    let memory = if needed <= keep {
        grow(kept, keep)?;
        kept
    } else {
        grow(spare, needed)?;
        spare
    };
    memory
        .get_mut(..needed)
        .ok_or_else(|| HashError::Internal("argon2 memory block too small".into()))
}

/// A parsed PHC string, ready to recompute.
struct StoredHash {
    argon2: Argon2<'static>,
    salt: Salt,
    expected: Output,
}

impl StoredHash {
    fn parse(phc: &str) -> Result<Self, HashError> {
        let hash = PasswordHash::new(phc).map_err(|e| HashError::Malformed(e.to_string()))?;
        let algorithm = Algorithm::new(hash.algorithm.as_str()).map_err(|_| {
            HashError::Malformed(format!(
                "unsupported algorithm {:?}",
                hash.algorithm.as_str()
            ))
        })?;
        let version = match hash.version {
            None => Version::default(),
            Some(v) => Version::try_from(v)
                .map_err(|_| HashError::Malformed(format!("unsupported argon2 version {v}")))?,
        };
        // Also sets the output length to the stored hash's.
        let params = Params::try_from(&hash)
            .map_err(|e| HashError::Malformed(format!("argon2 parameters: {e}")))?;
        check_memory(params.m_cost()).map_err(HashError::InvalidParams)?;
        let salt = hash
            .salt
            .ok_or_else(|| HashError::Malformed("no salt".into()))?;
        let expected = hash
            .hash
            .ok_or_else(|| HashError::Malformed("no hash output".into()))?;
        Ok(Self {
            argon2: Argon2::new(algorithm, version, params),
            salt,
            expected,
        })
    }

    fn block_count(&self) -> usize {
        self.argon2.params().block_count()
    }

    fn matches(&self, password: &str, memory: &mut [Block]) -> Result<bool, HashError> {
        let expected = self.expected.as_bytes();
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let computed = buffer
            .get_mut(..expected.len())
            .ok_or_else(|| HashError::Malformed("hash output too long".into()))?;
        self.argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                self.salt.as_ref(),
                &mut *computed,
                memory,
            )
            .map_err(|e| HashError::Internal(format!("argon2: {e}")))?;
        Ok(computed.ct_eq(expected).into())
    }
}

fn argon2_for(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with_memory(
    argon2: &Argon2<'_>,
    password: &str,
    memory: &mut [Block],
) -> Result<String, HashError> {
    let salt = random_bytes::<SALT_LEN>()?;
    let mut output = [0u8; OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, memory)
        .map_err(|e| HashError::Internal(format!("argon2: {e}")))?;
    phc_string(argon2.params(), &salt, &output)
}

/// A PHC string with the pool's parameters, a random salt and a random output. Verifying
/// against it costs exactly what a real hash costs, nothing can match it, and making it
/// costs nothing at start-up.
fn dummy_phc(params: &Params) -> Result<String, HashError> {
    let salt = random_bytes::<SALT_LEN>()?;
    let output = random_bytes::<OUTPUT_LEN>()?;
    phc_string(params, &salt, &output)
}

fn phc_string(params: &Params, salt: &[u8], output: &[u8]) -> Result<String, HashError> {
    let internal = |e: argon2::password_hash::phc::Error| HashError::Internal(e.to_string());
    let hash = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| HashError::InvalidParams(e.to_string()))?,
        salt: Some(Salt::new(salt).map_err(internal)?),
        hash: Some(Output::new(output).map_err(internal)?),
    };
    Ok(hash.to_string())
}

fn random_bytes<const N: usize>() -> Result<[u8; N], HashError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| HashError::Internal("the system random source failed".into()))?;
    Ok(bytes)
}

fn check_memory(memory_kib: u32) -> Result<(), String> {
    if memory_kib > MAX_MEMORY_KIB {
        return Err(format!(
            "memory cost {memory_kib} KiB is above the {MAX_MEMORY_KIB} KiB limit"
        ));
    }
    Ok(())
}

/// Grows `memory` to at least `blocks` blocks, reporting allocation failure as an error
/// rather than aborting.
fn grow(memory: &mut Vec<Block>, blocks: usize) -> Result<(), HashError> {
    if memory.len() < blocks {
        memory
            .try_reserve_exact(blocks - memory.len())
            .map_err(|_| HashError::Internal(format!("cannot allocate {blocks} KiB for argon2")))?;
        memory.resize(blocks, Block::default());
    }
    Ok(())
}

fn worker_stopped() -> HashError {
    HashError::Internal("a hashing worker stopped before answering".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    const SMALL: Argon2Params = Argon2Params {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    fn small_pool() -> PasswordHasher {
        PasswordHasher::new(SMALL, 2, 16).expect("pool starts")
    }

    #[tokio::test]
    async fn hash_then_verify_accepts_the_password_and_rejects_a_wrong_one() {
        let hasher = small_pool();
        let phc = hasher.hash("correct horse".into()).await.expect("hash");
        assert!(
            hasher
                .verify("correct horse".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("correct horsf".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify(String::new(), Some(phc))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_by_their_salt() {
        let hasher = small_pool();
        let a = hasher.hash("same".into()).await.expect("hash");
        let b = hasher.hash("same".into()).await.expect("hash");
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn phc_output_is_standard_and_verifies_with_the_argon2_crates_own_verifier() {
        let hasher = small_pool();
        let phc = hasher.hash("interop".into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).expect("parses");
        assert_eq!(parsed.salt.expect("salt").len(), SALT_LEN);
        assert_eq!(parsed.hash.expect("hash").len(), OUTPUT_LEN);
        Argon2::default()
            .verify_password(b"interop", phc.as_str())
            .expect("argon2 crate accepts it");
        assert!(
            Argon2::default()
                .verify_password(b"other", phc.as_str())
                .is_err()
        );
    }

    #[tokio::test]
    async fn hash_blocking_agrees_with_the_pool() {
        let hasher = small_pool();
        let phc = hasher.hash_blocking("offline").expect("hash");
        assert!(
            hasher
                .verify("offline".into(), Some(phc))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn hashes_made_with_other_params_still_verify() {
        let hasher = small_pool();
        for (m, t, p) in [(8192, 1, 1), (256, 3, 2), (2048, 1, 4)] {
            let old = Argon2::from(Params::new(m, t, p, None).expect("params"));
            let phc = argon2::PasswordHasher::hash_password(&old, b"legacy")
                .expect("hash")
                .to_string();
            assert!(
                hasher
                    .verify("legacy".into(), Some(phc.clone()))
                    .await
                    .expect("verify")
            );
            assert!(
                !hasher
                    .verify("legacx".into(), Some(phc.clone()))
                    .await
                    .expect("verify")
            );
        }
        // argon2i and argon2d hashes from older systems, and a 64-byte output.
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d, Algorithm::Argon2id] {
            let old = Argon2::new(
                algorithm,
                Version::V0x13,
                Params::new(512, 2, 1, Some(64)).expect("params"),
            );
            let phc = argon2::PasswordHasher::hash_password(&old, b"legacy")
                .expect("hash")
                .to_string();
            assert!(
                hasher
                    .verify("legacy".into(), Some(phc.clone()))
                    .await
                    .expect("verify")
            );
            assert!(
                !hasher
                    .verify("legacx".into(), Some(phc))
                    .await
                    .expect("verify")
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_account_verifies_false() {
        let hasher = small_pool();
        assert!(
            !hasher
                .verify("anything".into(), None)
                .await
                .expect("verify")
        );
        assert!(!hasher.verify(String::new(), None).await.expect("verify"));
    }

    #[tokio::test]
    async fn a_malformed_phc_gives_malformed_without_panicking() {
        let hasher = small_pool();
        let good = hasher.hash_blocking("pw").expect("hash");
        let truncated = &good[..good.len() - 5];
        let cases = [
            String::new(),
            "not a hash".into(),
            "$".into(),
            "$$$$$$$".into(),
            "$argon2id".into(),
            "$argon2id$v=19$m=1024,t=1,p=1".into(),
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ".into(),
            "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$argon2id$v=19$m=1024,t=1,p=1,q=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$argon2id$v=18$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$!!!".into(),
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA$extra".into(),
            "$argon2x$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".into(),
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            truncated.replace('$', "$$"),
            format!("{good}$"),
            format!(" {good}"),
        ];
        for phc in cases {
            let result = hasher.verify("pw".into(), Some(phc.clone())).await;
            assert!(
                matches!(result, Err(HashError::Malformed(_))),
                "{phc:?}: {result:?}"
            );
            let direct = verify_with_memory("pw", &phc, &mut Vec::new());
            assert!(
                matches!(direct, Err(HashError::Malformed(_))),
                "{phc:?}: {direct:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_too_much_memory_is_refused_without_allocating() {
        let hasher = small_pool();
        let phc = "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let result = hasher.verify("pw".into(), Some(phc.into())).await;
        assert!(
            matches!(result, Err(HashError::InvalidParams(_))),
            "{result:?}"
        );
    }

    #[test]
    fn out_of_range_params_are_refused() {
        for params in [
            Argon2Params {
                memory_kib: 4,
                ..SMALL
            },
            Argon2Params {
                iterations: 0,
                ..SMALL
            },
            Argon2Params {
                parallelism: 0,
                ..SMALL
            },
            Argon2Params {
                memory_kib: MAX_MEMORY_KIB + 1,
                ..SMALL
            },
        ] {
            let result = PasswordHasher::new(params, 1, 1);
            assert!(
                matches!(result, Err(HashError::InvalidParams(_))),
                "{params:?}"
            );
        }
    }

    #[test]
    fn error_messages_are_clear_and_do_not_echo_the_password() {
        assert_eq!(
            HashError::Busy.to_string(),
            "password hashing is at capacity; try again shortly"
        );
        let result = verify_with_memory("hunter2-secret", "hunter2-secret", &mut Vec::new());
        let message = result.expect_err("malformed").to_string();
        assert!(message.starts_with("malformed password hash"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[tokio::test]
    async fn a_full_queue_gives_busy() {
        // One worker and one queue slot: of several jobs submitted within one poll, the
        // first runs, the second waits, and the rest must be refused at once.
        let params = Argon2Params {
            memory_kib: 8192,
            iterations: 2,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(params, 1, 1).expect("pool starts");
        let phc = hasher.hash_blocking("pw").expect("hash");
        let verify = || hasher.verify("pw".into(), Some(phc.clone()));
        let results = tokio::join!(verify(), verify(), verify(), verify(), verify(), verify());
        let results = [
            results.0, results.1, results.2, results.3, results.4, results.5,
        ];
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(HashError::Busy)))
            .count();
        assert!(busy >= 1, "{results:?}");
        // Busy came back without waiting for a worker, and nothing else went wrong.
        for result in &results {
            assert!(
                matches!(result, Ok(true) | Err(HashError::Busy)),
                "{result:?}"
            );
        }
        // Once the queue drains, the pool answers again.
        assert!(hasher.verify("pw".into(), Some(phc)).await.expect("verify"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_verifications_all_answer_correctly() {
        let hasher = PasswordHasher::new(SMALL, 2, 256).expect("pool starts");
        let mut stored = Vec::new();
        for i in 0..4 {
            let password = format!("password-{i}");
            let phc = hasher.hash(password.clone()).await.expect("hash");
            stored.push((password, phc));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..120 {
            let hasher = hasher.clone();
            let (password, phc) = stored[n % stored.len()].clone();
            tasks.spawn(async move {
                let (attempt, phc, expected) = match n % 3 {
                    0 => (password, Some(phc), true),
                    1 => (format!("{password}!"), Some(phc), false),
                    _ => (password, None, false),
                };
                let answer = hasher.verify(attempt, phc).await.expect("verify");
                (n, answer, expected)
            });
        }
        let mut answered = 0;
        while let Some(joined) = tasks.join_next().await {
            let (n, answer, expected) = joined.expect("task");
            assert_eq!(answer, expected, "verification {n}");
            answered += 1;
        }
        assert_eq!(answered, 120);
    }

    #[tokio::test]
    async fn owasp_params_hash_and_verify_with_the_argon2_crate_defaults() {
        let hasher = PasswordHasher::new(Argon2Params::OWASP, 1, 4).expect("pool starts");
        assert_eq!(hasher.params(), Argon2Params::OWASP);
        let phc = hasher.hash("owasp".into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify("owasp".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("0wasp".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        // argon2's defaults are these parameters, so its verifier and ours agree.
        Argon2::default()
            .verify_password(b"owasp", phc.as_str())
            .expect("argon2 crate accepts it");
    }

    #[test]
    fn verify_with_memory_grows_the_callers_block_once_and_reuses_it() {
        let hasher = PasswordHasher::new(SMALL, 1, 1).expect("pool starts");
        let phc = hasher.hash_blocking("reuse").expect("hash");
        let mut memory = Vec::new();
        assert!(verify_with_memory("reuse", &phc, &mut memory).expect("verify"));
        assert_eq!(memory.len(), 1024);
        assert!(!verify_with_memory("reusE", &phc, &mut memory).expect("verify"));
        // A smaller hash runs in the larger block; the block is never shrunk.
        let smaller = Argon2::from(Params::new(64, 1, 1, None).expect("params"));
        let small_phc = argon2::PasswordHasher::hash_password(&smaller, b"reuse")
            .expect("hash")
            .to_string();
        assert!(verify_with_memory("reuse", &small_phc, &mut memory).expect("verify"));
        assert_eq!(memory.len(), 1024);
    }

    #[tokio::test]
    async fn dropping_the_last_clone_ends_the_workers() {
        let (hasher, workers) = PasswordHasher::start(SMALL, 3, 4).expect("pool starts");
        let clone = hasher.clone();
        assert!(clone.verify("x".into(), None).await.is_ok());
        drop(hasher);
        drop(clone);
        for worker in workers {
            worker.join().expect("worker ended cleanly");
        }
    }

    #[test]
    fn zero_threads_still_starts_one_worker() {
        let (hasher, workers) = PasswordHasher::start(SMALL, 0, 0).expect("pool starts");
        assert_eq!(workers.len(), 1);
        drop(hasher);
        for worker in workers {
            worker.join().expect("worker ended cleanly");
        }
    }

    #[test]
    fn the_hasher_is_send_sync_and_its_futures_are_send() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        fn assert_send<T: Send>(_: &T) {}
        assert_send_sync::<PasswordHasher>();
        let hasher = small_pool();
        assert_send(&hasher.hash(String::new()));
        assert_send(&hasher.verify(String::new(), None));
    }
}
