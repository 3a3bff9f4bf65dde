//! Where the signing key's passphrase comes from, the same way for every command
//! (`SPEC.md` leaves this to tools; this is the airseal CLI's contract).
//!
//! Sources are tried in a fixed order: `--passphrase-file FILE`, then the
//! [`PASSPHRASE_ENV`] environment variable, then a prompt on the terminal. A file or
//! variable suits scripts and CI; the prompt suits people. When none applies and standard
//! input is not a terminal we fail at once, naming the three options, instead of waiting for
//! input that will never come.

use std::fmt;
use std::fs::File;
use std::io::{self, IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// The environment variable that may hold the passphrase.
pub const PASSPHRASE_ENV: &str = "AIRSEAL_PASSPHRASE";

/// The environment variable that may hold an issuing key's passphrase (`SPEC.md` §18): a
/// new issuing key takes its passphrase from `--issuing-passphrase-file`, this variable or
/// a prompt, never from [`PASSPHRASE_ENV`] (the root's); unlocking one tries it before
/// [`PASSPHRASE_ENV`].
pub const ISSUING_PASSPHRASE_ENV: &str = "AIRSEAL_ISSUING_PASSPHRASE";

/// Largest passphrase file we read. It holds one line; a bigger file is almost certainly
/// the wrong file (the key itself, a log), and the limit keeps `/dev/zero` from filling
/// memory.
pub const MAX_PASSPHRASE_FILE: usize = 64 * 1024;

const PROMPT_UNLOCK: &str = "Passphrase for signing key: ";
const PROMPT_CREATE: &str = "Passphrase for the new signing key: ";
const PROMPT_REPEAT: &str = "Repeat the passphrase: ";

/// The passphrase options every command that uses the signing key accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassphraseOptions {
    /// `--passphrase-file FILE`: the passphrase is the file's first line.
    pub file: Option<PathBuf>,
}

/// What the passphrase is for; decides how a prompt behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Unlocking an existing key: one prompt.
    Unlock,
    /// Protecting a new key: two prompts that must agree, because a typo here would lock
    /// the vendor out of their own key.
    Create,
}

/// Where a passphrase was looked for; named in errors so the user knows what to fix.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassphraseOrigin {
    /// The file given with `--passphrase-file`.
    File(PathBuf),
    /// An environment variable ([`PASSPHRASE_ENV`] or [`ISSUING_PASSPHRASE_ENV`]).
    Env(&'static str),
    /// The terminal prompt.
    Prompt,
}

impl fmt::Display for PassphraseOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "the passphrase file {}", path.display()),
            Self::Env(var) => write!(f, "the {var} environment variable"),
            Self::Prompt => f.write_str("the prompt"),
        }
    }
}

/// Why no passphrase could be obtained. Messages never include the passphrase.
#[non_exhaustive]
#[derive(Debug)]
pub enum PassphraseError {
    /// No file, no environment variable, and standard input is not a terminal to prompt on.
    NoSource,
    /// No `--issuing-passphrase-file`, no [`ISSUING_PASSPHRASE_ENV`], and standard input is
    /// not a terminal: a new issuing key has no passphrase (it never takes the root's).
    NoIssuingSource,
    /// The source gave an empty passphrase; it would protect nothing, and an empty
    /// variable or file is far more often a mistake than a choice.
    EmptyPassphrase {
        /// Which source was empty.
        origin: PassphraseOrigin,
    },
    /// The passphrase is not valid UTF-8.
    NotUtf8 {
        /// Which source held it.
        origin: PassphraseOrigin,
    },
    /// The two prompted passphrases differ.
    Mismatch,
    /// The passphrase file is larger than [`MAX_PASSPHRASE_FILE`].
    FileTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase file could not be read.
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Prompting on the terminal failed.
    Prompt(io::Error),
}

impl fmt::Display for PassphraseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSource => write!(
                f,
                "no passphrase given and standard input is not a terminal to ask on: \
                 pass --passphrase-file FILE, set {PASSPHRASE_ENV}, or run in a terminal"
            ),
            Self::NoIssuingSource => write!(
                f,
                "no passphrase for the new issuing key and standard input is not a terminal to \
                 ask on: pass --issuing-passphrase-file FILE, set {ISSUING_PASSPHRASE_ENV}, or \
                 run in a terminal (the root's {PASSPHRASE_ENV} is never used for it)"
            ),
            Self::EmptyPassphrase { origin } => write!(f, "empty passphrase from {origin}"),
            Self::NotUtf8 { origin } => write!(f, "the passphrase from {origin} is not UTF-8"),
            Self::Mismatch => f.write_str("the two passphrases do not match"),
            Self::FileTooLarge { path } => write!(
                f,
                "the passphrase file {} is larger than {MAX_PASSPHRASE_FILE} bytes; \
                 it should hold one line",
                path.display()
            ),
            Self::ReadFile { path, source } => {
                write!(
                    f,
                    "cannot read the passphrase file {}: {source}",
                    path.display()
                )
            }
            Self::Prompt(e) => write!(f, "cannot read the passphrase from the terminal: {e}"),
        }
    }
}

impl std::error::Error for PassphraseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::ReadFile { source, .. } => Some(source),
            Self::Prompt(e) => Some(e),
            _ => None,
        }
    }
}

/// Obtains the passphrase from the first source that applies (see the module docs).
///
/// File and environment values are taken as they are, even for [`Purpose::Create`]: a
/// script that sets them has no typo to guard against.
///
/// # Errors
/// [`PassphraseError::NoSource`] when nothing is given and standard input is not a
/// terminal; [`PassphraseError::EmptyPassphrase`]; [`PassphraseError::NotUtf8`];
/// [`PassphraseError::Mismatch`] when the two prompts differ; [`PassphraseError::ReadFile`],
/// [`PassphraseError::FileTooLarge`] or [`PassphraseError::Prompt`] for I/O failures.
pub fn obtain_passphrase(
    opts: &PassphraseOptions,
    purpose: Purpose,
) -> Result<Zeroizing<String>, PassphraseError> {
    obtain_from_env(opts, purpose, &[PASSPHRASE_ENV])
}

/// An issuing key's passphrase: `opts.file`, else [`ISSUING_PASSPHRASE_ENV`], else (only
/// to unlock) [`PASSPHRASE_ENV`], else a prompt. A new issuing key never takes the root's
/// variable: a server that holds the issuing key must not learn the root's passphrase.
///
/// # Errors
/// As [`obtain_passphrase`].
pub fn obtain_issuing_passphrase(
    opts: &PassphraseOptions,
    purpose: Purpose,
) -> Result<Zeroizing<String>, PassphraseError> {
    match purpose {
        Purpose::Create => match obtain_from_env(opts, purpose, &[ISSUING_PASSPHRASE_ENV]) {
            Err(PassphraseError::NoSource) => Err(PassphraseError::NoIssuingSource),
            other => other,
        },
        Purpose::Unlock => {
            obtain_from_env(opts, purpose, &[ISSUING_PASSPHRASE_ENV, PASSPHRASE_ENV])
        }
    }
}

/// [`obtain_with`] with the first of the variables `vars` that is set.
fn obtain_from_env(
    opts: &PassphraseOptions,
    purpose: Purpose,
    vars: &[&'static str],
) -> Result<Zeroizing<String>, PassphraseError> {
    let mut env = None;
    for var in vars {
        match std::env::var(var) {
            Ok(value) => {
                env = Some((*var, value));
                break;
            }
            Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(PassphraseError::NotUtf8 {
                    origin: PassphraseOrigin::Env(var),
                });
            }
        }
    }
    obtain_with(
        opts,
        purpose,
        env,
        io::stdin().is_terminal(),
        |text: &str| rpassword::prompt_password(text),
    )
}

/// The logic of [`obtain_passphrase`] with the environment, the terminal check and the
/// prompt passed in, so tests can cover every path without a terminal or `set_var`.
fn obtain_with(
    opts: &PassphraseOptions,
    purpose: Purpose,
    env: Option<(&'static str, String)>,
    stdin_is_terminal: bool,
    mut prompt: impl FnMut(&str) -> io::Result<String>,
) -> Result<Zeroizing<String>, PassphraseError> {
    let env = env.map(|(var, value)| (var, Zeroizing::new(value)));
    if let Some(path) = &opts.file {
        return non_empty(read_first_line(path)?, || {
            PassphraseOrigin::File(path.clone())
        });
    }
    if let Some((var, value)) = env {
        return non_empty(value, || PassphraseOrigin::Env(var));
    }
    if !stdin_is_terminal {
        return Err(PassphraseError::NoSource);
    }
    let mut ask = |text: &str| {
        prompt(text)
            .map(Zeroizing::new)
            .map_err(PassphraseError::Prompt)
    };
    match purpose {
        Purpose::Unlock => non_empty(ask(PROMPT_UNLOCK)?, || PassphraseOrigin::Prompt),
        Purpose::Create => {
            let first = non_empty(ask(PROMPT_CREATE)?, || PassphraseOrigin::Prompt)?;
            let second = ask(PROMPT_REPEAT)?;
            if *first == *second {
                Ok(first)
            } else {
                Err(PassphraseError::Mismatch)
            }
        }
    }
}

fn non_empty(
    value: Zeroizing<String>,
    origin: impl FnOnce() -> PassphraseOrigin,
) -> Result<Zeroizing<String>, PassphraseError> {
    if value.is_empty() {
        Err(PassphraseError::EmptyPassphrase { origin: origin() })
    } else {
        Ok(value)
    }
}

/// Reads the first line of `path`, without its `\n` or `\r\n`.
///
/// Only the first line counts so that a file written by `echo` (trailing newline) or an
/// editor works, and so that a comment after the passphrase cannot silently become part
/// of it. Every buffer holding file bytes is wiped when dropped.
fn read_first_line(path: &Path) -> Result<Zeroizing<String>, PassphraseError> {
    let read_err = |source| PassphraseError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    // Reserve the whole limit up front so the buffer never reallocates and leaves copies of
    // the passphrase behind in freed memory.
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_PASSPHRASE_FILE + 1));
    let limit = u64::try_from(MAX_PASSPHRASE_FILE + 1).unwrap_or(u64::MAX);
    file.take(limit).read_to_end(&mut buf).map_err(read_err)?;
    if buf.len() > MAX_PASSPHRASE_FILE {
        return Err(PassphraseError::FileTooLarge {
            path: path.to_path_buf(),
        });
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| PassphraseError::NotUtf8 {
        origin: PassphraseOrigin::File(path.into()),
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::io::Write as _;

    fn file_with(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents).unwrap();
        f
    }

    fn opts(file: Option<&Path>) -> PassphraseOptions {
        PassphraseOptions {
            file: file.map(Path::to_path_buf),
        }
    }

    /// A prompt that must never be shown.
    fn no_prompt(text: &str) -> io::Result<String> {
        panic!("unexpected prompt {text:?}")
    }

    /// A prompt that answers from a script and records what it was asked.
    fn scripted<'a>(
        answers: &'a [&'a str],
        asked: &'a RefCell<Vec<String>>,
    ) -> impl FnMut(&str) -> io::Result<String> + 'a {
        let mut answers = answers.iter();
        move |text| {
            asked.borrow_mut().push(text.to_owned());
            Ok(answers.next().unwrap().to_string())
        }
    }

    #[test]
    fn file_first_line_without_line_ending() {
        for contents in [
            &b"s3cret"[..],
            b"s3cret\n",
            b"s3cret\r\n",
            b"s3cret\nsecond line\n",
        ] {
            let f = file_with(contents);
            let got = obtain_with(
                &opts(Some(f.path())),
                Purpose::Unlock,
                None,
                false,
                no_prompt,
            )
            .unwrap();
            assert_eq!(got.as_str(), "s3cret", "{contents:?}");
        }
        // Inner spaces and a trailing space are part of the passphrase.
        let f = file_with(b" two words \n");
        let got = obtain_with(
            &opts(Some(f.path())),
            Purpose::Create,
            None,
            true,
            no_prompt,
        )
        .unwrap();
        assert_eq!(got.as_str(), " two words ");
    }

    #[test]
    fn file_beats_env_and_env_beats_prompt() {
        let f = file_with(b"from-file\n");
        let env = || Some((PASSPHRASE_ENV, "from-env".to_owned()));
        let got = obtain_with(
            &opts(Some(f.path())),
            Purpose::Unlock,
            env(),
            true,
            no_prompt,
        )
        .unwrap();
        assert_eq!(got.as_str(), "from-file");
        let got = obtain_with(&opts(None), Purpose::Create, env(), true, no_prompt).unwrap();
        assert_eq!(got.as_str(), "from-env");
    }

    #[test]
    fn empty_sources_are_errors() {
        for contents in [&b""[..], b"\n", b"\r\n", b"\nsecond"] {
            let f = file_with(contents);
            let e = obtain_with(
                &opts(Some(f.path())),
                Purpose::Unlock,
                None,
                true,
                no_prompt,
            )
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    PassphraseError::EmptyPassphrase {
                        origin: PassphraseOrigin::File(_)
                    }
                ),
                "{contents:?}: {e:?}"
            );
        }
        let e = obtain_with(
            &opts(None),
            Purpose::Unlock,
            Some((ISSUING_PASSPHRASE_ENV, String::new())),
            true,
            no_prompt,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            PassphraseError::EmptyPassphrase {
                origin: PassphraseOrigin::Env(ISSUING_PASSPHRASE_ENV)
            }
        ));
        // The variable that was empty is the one named.
        assert!(e.to_string().contains(ISSUING_PASSPHRASE_ENV), "{e}");
        let asked = RefCell::new(Vec::new());
        let e = obtain_with(
            &opts(None),
            Purpose::Unlock,
            None,
            true,
            scripted(&[""], &asked),
        )
        .unwrap_err();
        assert!(matches!(
            e,
            PassphraseError::EmptyPassphrase {
                origin: PassphraseOrigin::Prompt
            }
        ));
    }

    #[test]
    fn no_source_without_terminal() {
        let e = obtain_with(&opts(None), Purpose::Unlock, None, false, no_prompt).unwrap_err();
        assert!(matches!(e, PassphraseError::NoSource));
        let msg = e.to_string();
        for option in ["--passphrase-file", PASSPHRASE_ENV, "terminal"] {
            assert!(msg.contains(option), "{msg}");
        }
    }

    #[test]
    fn missing_bad_and_huge_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = obtain_with(
            &opts(Some(&missing)),
            Purpose::Unlock,
            None,
            true,
            no_prompt,
        )
        .unwrap_err();
        assert!(matches!(&e, PassphraseError::ReadFile { path, .. } if *path == missing));
        let f = file_with(b"\xff\xfe\n");
        let e = obtain_with(
            &opts(Some(f.path())),
            Purpose::Unlock,
            None,
            true,
            no_prompt,
        )
        .unwrap_err();
        assert!(matches!(e, PassphraseError::NotUtf8 { .. }), "{e:?}");
        let f = file_with(&vec![b'a'; MAX_PASSPHRASE_FILE + 1]);
        let e = obtain_with(
            &opts(Some(f.path())),
            Purpose::Unlock,
            None,
            true,
            no_prompt,
        )
        .unwrap_err();
        assert!(matches!(e, PassphraseError::FileTooLarge { .. }), "{e:?}");
        let f = file_with(&vec![b'a'; MAX_PASSPHRASE_FILE]);
        let got = obtain_with(
            &opts(Some(f.path())),
            Purpose::Unlock,
            None,
            true,
            no_prompt,
        );
        assert_eq!(got.unwrap().len(), MAX_PASSPHRASE_FILE);
    }

    #[test]
    fn unlock_prompts_once() {
        let asked = RefCell::new(Vec::new());
        let got = obtain_with(
            &opts(None),
            Purpose::Unlock,
            None,
            true,
            scripted(&["pw"], &asked),
        )
        .unwrap();
        assert_eq!(got.as_str(), "pw");
        assert_eq!(*asked.borrow(), [PROMPT_UNLOCK]);
    }

    #[test]
    fn create_prompts_twice_and_requires_agreement() {
        let asked = RefCell::new(Vec::new());
        let got = obtain_with(
            &opts(None),
            Purpose::Create,
            None,
            true,
            scripted(&["pw", "pw"], &asked),
        )
        .unwrap();
        assert_eq!(got.as_str(), "pw");
        assert_eq!(*asked.borrow(), [PROMPT_CREATE, PROMPT_REPEAT]);
        let asked = RefCell::new(Vec::new());
        let e = obtain_with(
            &opts(None),
            Purpose::Create,
            None,
            true,
            scripted(&["pw", "pW"], &asked),
        )
        .unwrap_err();
        assert!(matches!(e, PassphraseError::Mismatch));
        assert!(!format!("{e} {e:?}").contains("pw"));
    }

    #[test]
    fn prompt_failure_is_reported() {
        let e = obtain_with(&opts(None), Purpose::Unlock, None, true, |_: &str| {
            Err(io::Error::new(io::ErrorKind::NotFound, "no /dev/tty"))
        })
        .unwrap_err();
        assert!(matches!(e, PassphraseError::Prompt(_)), "{e:?}");
    }

    #[test]
    fn messages_never_contain_the_passphrase() {
        let f = file_with(b"\nhunter2");
        let e = obtain_with(
            &opts(Some(f.path())),
            Purpose::Unlock,
            None,
            true,
            no_prompt,
        )
        .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("hunter2"));
    }
}
