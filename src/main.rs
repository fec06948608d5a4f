//! The `logbook` command: serve, provision, verify.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use logbook::Config;
use logbook::organization::service::{self as organizations, NewAdmin, OrgProfile};

#[derive(Parser)]
#[command(
    name = "logbook",
    version,
    about = "Logbook: records for volunteer fire departments"
)]
struct Cli {
    /// Configuration file (default /etc/logbook/logbook.toml, if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Create the first organization and its administrator (refuses if one exists).
    Init(Provision),
    /// Manage organizations on this host.
    #[command(subcommand)]
    Org(OrgCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Backups of the database and the data directory's files.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Break-glass account recovery from the host's shell.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the configuration and the database connection, then exit.
    Check,
    /// Print the first-boot setup token of the running server (it changes at each start).
    SetupToken,
    /// Print the JSON API's OpenAPI document (what /api/v1/openapi.json serves), then exit.
    Openapi,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Add a further organization (a host serving several departments).
    Add(Provision),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk every organization's hash chain and report the first broken entry.
    Verify {
        /// Only this organization (its slug).
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Make a backup now (one consistent snapshot; the server may keep running).
    Create {
        /// Where to write it (default: the configured backup_dir, <data dir>/backups).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The backups in the backup directory, newest first.
    List {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Read a backup through and check every table and file against its manifest.
    Verify {
        file: PathBuf,
        /// A file holding the passphrase of an encrypted backup (default: the passphrase this
        /// server's backups are made with).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Put a backup in place of the current data (checked first; a safety backup of the current
    /// data is made in the backup directory). Restart the service afterwards.
    Restore {
        file: PathBuf,
        /// Where the safety backup goes (default <data dir>/backups).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A file holding the passphrase of an encrypted backup (default: the passphrase this
        /// server's backups are made with).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Set a temporary password (the member must change it at the next sign-in), unlock the
    /// account and end its sessions.
    ResetPassword {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        #[arg(long)]
        username: String,
        /// A file holding the temporary password.
        #[arg(long)]
        password_file: PathBuf,
    },
}

#[derive(Args)]
struct Provision {
    #[arg(long)]
    org_name: String,
    /// fire_department, ems_only or fire_ems_combined.
    #[arg(long)]
    org_type: Option<String>,
    /// IANA time zone, e.g. America/Chicago.
    #[arg(long)]
    timezone: Option<String>,
    #[arg(long)]
    admin_username: String,
    #[arg(long)]
    admin_email: String,
    /// A file holding the administrator's password (so it stays out of the shell history).
    #[arg(long)]
    admin_password_file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Needs no configuration or database: the document is built into the binary.
    if matches!(cli.command, Some(Command::Openapi)) {
        return match serde_json::to_string_pretty(&logbook::app::openapi_document()) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("logbook: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("logbook: {e:#}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("logbook: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("logbook: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            logbook::run(config, listener, logbook::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init(p) => provision(config, p, true).await,
        Command::Org(OrgCommand::Add(p)) => provision(config, p, false).await,
        Command::Audit(AuditCommand::Verify { org }) => audit_verify(config, org).await,
        Command::Backup(b) => backup(config, b).await,
        Command::User(UserCommand::ResetPassword {
            org,
            username,
            password_file,
        }) => {
            let password = read_password(&password_file)?;
            let state = logbook::prepare(config).await?;
            match logbook::members::service::reset_password_from_shell(
                &state.db,
                &state.hasher,
                &org,
                &username,
                &password,
            )
            .await
            {
                Ok(id) => {
                    println!(
                        "password of {username} ({id}) reset; they must change it at next sign-in"
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(logbook::error::AppError::NotFound) => {
                    bail!("no member `{username}` in an organization with slug `{org}`")
                }
                Err(e) => fail(e),
            }
        }
        Command::SetupToken => setup_token(&config),
        Command::Openapi => unreachable!("answered before the configuration is read"),
        Command::Check => {
            // The administrator's certificate and key must belong together (the generated ones
            // are made at the first `serve`).
            if let logbook::config::TlsMode::Files { cert, key } = &config.tls {
                logbook::system::tls::from_files(cert, key)?;
            }
            let state = logbook::prepare(config).await?;
            let orgs = organizations::count(&state.db).await?;
            println!("configuration: ok");
            println!("database: ok, migrations applied, {orgs} organization(s)");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn provision(config: Config, p: Provision, first: bool) -> anyhow::Result<ExitCode> {
    let password = read_password(&p.admin_password_file)?;
    let state = logbook::prepare(config).await?;
    if first && organizations::count(&state.db).await? > 0 {
        bail!("an organization already exists; use `logbook org add` to add another");
    }
    let profile = OrgProfile {
        name: Some(p.org_name),
        organization_type: p.org_type,
        timezone: p.timezone,
        ..Default::default()
    };
    let admin = NewAdmin {
        username: p.admin_username,
        email: p.admin_email,
        password,
        ..Default::default()
    };
    match organizations::provision(&state.db, &state.hasher, profile, admin, "cli").await {
        Ok(done) => {
            println!(
                "created organization `{}` ({}) with administrator {}",
                done.slug, done.org_id, done.admin_id
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(e),
    }
}

async fn backup(config: Config, command: BackupCommand) -> anyhow::Result<ExitCode> {
    use logbook::backup::service;
    let default_dir = config.backup_dir.clone();
    match command {
        BackupCommand::Create { dir } => {
            let data_dir = config.data_dir.clone();
            let state = logbook::prepare(config).await?;
            let info = service::create(
                &state.db,
                &data_dir,
                &dir.unwrap_or(default_dir),
                &service::CreateOptions::default(),
            )
            .await?;
            println!(
                "{}: {} bytes, {} tables, {} rows, {} files, schema {}, checked; {:.1} s",
                info.path,
                info.bytes,
                info.tables,
                info.rows,
                info.files,
                info.schema_version,
                info.seconds
            );
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::List { dir } => {
            let dir = dir.unwrap_or(default_dir);
            let listed = service::list(&dir)?;
            if listed.is_empty() {
                println!("no backups in {}", dir.display());
            }
            for b in listed {
                println!("{}\t{}\t{}", b.file, b.bytes, b.modified.to_rfc3339());
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Restore {
            file,
            dir,
            passphrase_file,
        } => {
            let data_dir = config.data_dir.clone();
            let url = config.database_url.clone();
            let options =
                service::RestoreOptions::new(passphrase_from(passphrase_file.as_deref())?, None);
            let state = logbook::prepare(config).await?;
            match logbook::backup::restore::restore(
                &state.db,
                &url,
                &data_dir,
                &file,
                &dir.unwrap_or(default_dir),
                &options,
            )
            .await
            {
                Ok(r) => {
                    // The data is back either way; what fails here is said, not hidden.
                    let user = std::env::var("SUDO_USER")
                        .or_else(|_| std::env::var("USER"))
                        .unwrap_or_else(|_| "an operator".into());
                    let ended =
                        logbook::backup::restoring::after_command_line_restore(&state, &r, &user)
                            .await;
                    println!(
                        "restored {}: {} tables, {} rows (schema {} → {}); the data from before is \
                         in {}; {:.1} s. Restart the service: sudo systemctl restart logbook",
                        r.file,
                        r.tables,
                        r.rows,
                        r.from_schema,
                        r.to_schema,
                        r.safety_backup.as_deref().unwrap_or("-"),
                        r.seconds
                    );
                    match ended {
                        Ok(n) => println!(
                            "{n} session(s) ended: everyone signs in again; `backup.restored` \
                             is in each department's audit log"
                        ),
                        Err(e) => eprintln!(
                            "logbook: the restore's audit entry could not be written and \
                             sessions may still be open: {e}"
                        ),
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("logbook: restore refused or failed: {e:#}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        BackupCommand::Verify {
            file,
            passphrase_file,
        } => match service::verify(
            &file,
            match passphrase_from(passphrase_file.as_deref())? {
                Some(p) => Some(p),
                None => logbook::backup::key::stored(&config.data_dir)?,
            }
            .as_deref(),
        )
        .await
        {
            Ok(checked) => {
                let m = checked.manifest;
                println!(
                    "{}: ok: {} tables, {} rows, {} files, schema {}, made {} by Logbook {}",
                    file.display(),
                    m.tables.len(),
                    m.tables.iter().map(|t| t.rows).sum::<u64>(),
                    m.files.len(),
                    m.schema_version,
                    m.created_at.to_rfc3339(),
                    m.app_version
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}: refused: {e}", file.display());
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// The passphrase in the first line of `file`, if one is given.
fn passphrase_from(file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    let Some(file) = file else { return Ok(None) };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the passphrase file {}", file.display()))?;
    let line = text.lines().next().unwrap_or_default().to_string();
    if line.is_empty() {
        bail!("the passphrase file {} is empty", file.display());
    }
    Ok(Some(line))
}

/// The token the running server wrote at its start. Reading the file needs the rights of the
/// service's user (or root), which is what keeps it from other users of the machine.
fn setup_token(config: &Config) -> anyhow::Result<ExitCode> {
    let path = logbook::setup::token_path(&config.data_dir);
    match std::fs::read_to_string(&path) {
        Ok(token) => {
            println!("{}", token.trim());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "logbook: there is no setup token ({} does not exist): either setup is done \
                 (sign in instead), or the server is not running yet (`sudo systemctl start \
                 logbook`)",
                path.display()
            );
            Ok(ExitCode::FAILURE)
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            bail!(
                "cannot read {}: run it as root (`sudo logbook setup-token`)",
                path.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Reports a refused command: each invalid field on its own line (exit 2), or the problem.
fn fail(err: logbook::error::AppError) -> anyhow::Result<ExitCode> {
    match err {
        logbook::error::AppError::Validation(errors) => {
            for e in errors {
                eprintln!("logbook: {}: {}", e.field, e.message);
            }
            Ok(ExitCode::from(2))
        }
        e => bail!("{}", e.to_problem().detail),
    }
}

/// A password from a file, without the trailing newline an editor or `echo` adds.
fn read_password(path: &std::path::Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

async fn audit_verify(config: Config, only: Option<String>) -> anyhow::Result<ExitCode> {
    let state = logbook::prepare(config).await?;
    let orgs: Vec<(logbook::auth::OrgId, String)> =
        sqlx::query_as("SELECT id, slug FROM organizations ORDER BY created_at")
            .fetch_all(&state.db)
            .await?;
    let mut broken = false;
    let mut seen = false;
    for (id, slug) in orgs {
        if only.as_deref().is_some_and(|o| o != slug) {
            continue;
        }
        seen = true;
        let report = logbook::audit::chain::verify(&state.db, id)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.to_problem().detail))?;
        match report.first_broken {
            None => println!("{slug}: ok, {} entries verified", report.entries_checked),
            Some(b) => {
                broken = true;
                println!(
                    "{slug}: BROKEN at entry {}{}: {} ({} entries verified before it)",
                    b.sequence,
                    b.id.map(|i| format!(" (id {i})")).unwrap_or_default(),
                    b.reason,
                    report.entries_checked
                );
            }
        }
    }
    if let Some(o) = only
        && !seen
    {
        bail!("no organization with slug `{o}`");
    }
    Ok(if broken {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
