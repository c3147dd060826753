//! `xyt`: the xy-ticket server and its tools.

use std::net::TcpListener;

use anyhow::Context;
use clap::{Parser, Subcommand};
use xyt_integrations::xgj::XgjSupplyClient;
use xyt_server::env_config::EnvConfig;
use xyt_server::{app, demo, openapi};

#[derive(Parser)]
#[command(
    name = "xyt",
    version,
    about = "xy-ticket: order back office for Xianyu ticket resellers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve on XYT_BIND.
    Serve {
        /// Also load the demo config and demo orders when the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document to standard output.
    Openapi,
    /// Drop every view and rebuild it from the event store, in batches, with a progress bar.
    RebuildViews {
        /// Rebuild into scratch tables instead and report every row that differs from the live
        /// views (which stay untouched); exits with status 1 when any row differs.
        #[arg(long)]
        verify: bool,
    },
    /// Operators: add, change a password, disable, list (passwords are read as one line on stdin).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API keys for integrations: create (the key is printed once, alone on the last line), list, revoke.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Recompute the events' hash chains and name the first edited, removed or inserted event
    /// (exit status 1 when any chain fails).
    Verify {
        /// Only this order (`XY…`).
        #[arg(long)]
        order: Option<String>,
    },
    /// An order's timeline: each event, who, when and what it changed.
    Audit {
        order_no: String,
        /// Replay only up to this event sequence.
        #[arg(long)]
        at: Option<i64>,
        /// The replay as JSON (the detail at `--at` and the timeline).
        #[arg(long)]
        json: bool,
    },
    /// Dispute bundles: export one order's evidence, verify a bundle offline.
    Dispute {
        #[command(subcommand)]
        command: DisputeCommand,
    },
    /// XGJ tools.
    Xgj {
        #[command(subcommand)]
        command: XgjCommand,
    },
}

#[derive(Subcommand)]
enum DisputeCommand {
    /// Write the order's bundle (manifest.json, images, report.html) to a zip; the export is recorded.
    Export {
        order_no: String,
        #[arg(short, long)]
        output: std::path::PathBuf,
    },
    /// Check a bundle offline (hashes and chain); exit status 1 naming the failing part.
    Verify { file: std::path::PathBuf },
}

async fn dispute_command(command: DisputeCommand) -> anyhow::Result<()> {
    match command {
        DisputeCommand::Export { order_no, output } => {
            let pool = tool_pool().await?;
            let dir = std::env::var("XYT_FILE_DIR").unwrap_or_else(|_| ".data/files".into());
            let files = xyt_integrations::files::LocalFileStore::new(dir);
            let who = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()));
            let b = match xyt_server::bundle::export(&pool, &files, &order_no, &who).await {
                Ok(b) => b,
                Err(xyt_server::bundle::BundleError::NotFound) => anyhow::bail!("order {order_no} does not exist"),
                Err(e) => return Err(e.into()),
            };
            std::fs::write(&output, &b.bytes).with_context(|| format!("writing {}", output.display()))?;
            println!(
                "wrote {} ({} bytes); chain head #{} {}; manifest sha256 {}",
                output.display(),
                b.bytes.len(),
                b.head_sequence,
                b.head_hash,
                b.manifest_sha256
            );
        }
        DisputeCommand::Verify { file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let v = xyt_server::bundle::verify(&bytes);
            for c in &v.checks {
                println!("{} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.part, c.detail);
            }
            if let Some(f) = v.first_failure() {
                println!("the bundle FAILS at {}: {}", f.part, f.detail);
                std::process::exit(1);
            }
            println!(
                "the bundle of {} is intact; chain head {}; compare the manifest sha256 {} with the server's export record",
                v.order_no.as_deref().unwrap_or("-"),
                v.head_hash.as_deref().unwrap_or("-"),
                v.manifest_sha256.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(())
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read as one line on standard input.
    Add {
        username: String,
        /// admin, operator or auditor.
        #[arg(long)]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Set a user's password (read as one line on standard input); ends its sessions.
    Passwd { username: String },
    /// Disable a user; ends its sessions.
    Disable { username: String },
    /// List the users.
    List,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key; it is printed once, alone on the last line of standard output.
    Create {
        #[arg(long)]
        name: String,
        /// admin, operator or auditor.
        #[arg(long)]
        role: String,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key; it fails at once.
    Revoke { name: String },
}

/// One line from standard input, without its line ending (a prompt on stderr for a person).
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprint!("password (10–128 characters): ");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let p = line.strip_suffix('\n').unwrap_or(&line);
    let p = p.strip_suffix('\r').unwrap_or(p);
    Ok(p.to_string())
}

/// A migrated pool from `DATABASE_URL` alone: the tools need nothing else of the environment.
async fn tool_pool() -> anyhow::Result<xyt_store::PgPool> {
    tool_pool_of(2).await
}

async fn tool_pool_of(max_connections: u32) -> anyhow::Result<xyt_store::PgPool> {
    let pool = xyt_store::db::pool(&xyt_server::env_config::database_url_from_env()?, max_connections)?;
    xyt_store::db::migrate(&pool).await.context("migrating the database")?;
    Ok(pool)
}

async fn user_command(command: UserCommand) -> anyhow::Result<()> {
    use xyt_server::auth::accounts::{self, NewUser, UserPatch};
    let pool = tool_pool().await?;
    match command {
        UserCommand::Add {
            username,
            role,
            display_name,
        } => {
            let password = read_password()?;
            let u = accounts::add_user(
                &pool,
                "cli",
                NewUser {
                    username,
                    display_name,
                    role,
                    password,
                },
            )
            .await?;
            println!("added {} ({}, {})", u.username, u.role, u.display_name);
        }
        UserCommand::Passwd { username } => {
            let password = read_password()?;
            let patch = UserPatch {
                password: Some(password),
                ..Default::default()
            };
            let u = accounts::change_user(&pool, "cli", &username, patch).await?;
            println!("password of {} changed; its sessions ended", u.username);
        }
        UserCommand::Disable { username } => {
            let patch = UserPatch {
                disabled: Some(true),
                ..Default::default()
            };
            let u = accounts::change_user(&pool, "cli", &username, patch).await?;
            println!("{} disabled; its sessions ended", u.username);
        }
        UserCommand::List => {
            println!("{:<32} {:<9} {:<9} display name", "username", "role", "state");
            for u in xyt_store::access::list_users(&pool).await? {
                let state = if u.disabled { "disabled" } else { "enabled" };
                println!("{:<32} {:<9} {:<9} {}", u.username, u.role, state, u.display_name);
            }
        }
    }
    Ok(())
}

async fn api_key_command(command: ApiKeyCommand) -> anyhow::Result<()> {
    use xyt_server::auth::accounts;
    let pool = tool_pool().await?;
    match command {
        ApiKeyCommand::Create { name, role } => {
            let (k, key) = accounts::create_key(&pool, "cli", &name, &role).await?;
            println!("created API key {} ({}); it is shown only now:", k.name, k.role);
            println!("{key}");
        }
        ApiKeyCommand::List => {
            println!(
                "{:<32} {:<9} {:<10} {:<25} state",
                "name", "role", "prefix", "last used"
            );
            for k in xyt_store::access::list_keys(&pool).await? {
                let used = k.last_used_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into());
                let state = if k.revoked_at.is_some() { "revoked" } else { "live" };
                println!("{:<32} {:<9} {:<10} {:<25} {state}", k.name, k.role, k.key_prefix, used);
            }
        }
        ApiKeyCommand::Revoke { name } => {
            let k = accounts::revoke_key(&pool, "cli", &name).await?;
            println!("revoked {}", k.name);
        }
    }
    Ok(())
}

#[derive(Subcommand)]
enum XgjCommand {
    /// Send a signed 创建卡密订单 call, as XGJ would, and print the answer.
    SendTestOrder {
        /// The gateway base URL (what an operator enters in XGJ).
        #[arg(long, default_value = "http://127.0.0.1:8080/xgj")]
        gateway: String,
        /// XGJ's order_no (default: a new random 19-digit number).
        #[arg(long)]
        order_no: Option<String>,
        #[arg(long, default_value = "初级道 3 小时-淡季")]
        goods_no: String,
        #[arg(long, default_value_t = 1)]
        quantity: i64,
        /// Optional max_amount in cents.
        #[arg(long)]
        max_amount: Option<i64>,
        /// Send the seed order's exact payload instead.
        #[arg(long)]
        seed: bool,
    },
    /// Send a signed ERP order push (e.g. a refund: --order-status 23 --refund-status 5).
    SendErpPush {
        #[arg(long, default_value = "http://127.0.0.1:8080/xgj")]
        gateway: String,
        #[arg(long)]
        order_no: String,
        #[arg(long, default_value_t = 23)]
        order_status: i64,
        #[arg(long, default_value_t = 5)]
        refund_status: i64,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// One line on standard error, redrawn in place: a bar, events/s and the time left.
fn progress_bar(p: &xyt_store::projections::Progress) {
    let done = p.events as f64 / (p.total_events.max(1) as f64);
    let width = 30;
    let filled = ((done.min(1.0)) * width as f64) as usize;
    let secs = p.elapsed.as_secs_f64().max(1e-9);
    let rate = p.events as f64 / secs;
    let eta = if rate > 0.0 {
        (p.total_events.saturating_sub(p.events)) as f64 / rate
    } else {
        0.0
    };
    eprint!(
        "\r[{}{}] {:>3.0}%  {}/{} orders  {}/{} events  {:.0} events/s  ETA {:.0} s   ",
        "#".repeat(filled),
        "-".repeat(width - filled),
        done * 100.0,
        p.orders,
        p.total_orders,
        p.events,
        p.total_events,
        rate,
        eta
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match cli.command {
        Command::Openapi => {
            print!("{}", openapi::to_json());
            Ok(())
        }
        Command::Migrate => {
            init_tracing();
            tool_pool().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::RebuildViews { verify } => {
            init_tracing();
            // Two batches in flight, each on its own connection, and the reads between them.
            let pool = tool_pool_of(4).await?;
            let started = std::time::Instant::now();
            let report = xyt_store::projections::Projections::new(pool)
                .rebuild(
                    if verify {
                        xyt_store::projections::RebuildMode::Verify
                    } else {
                        xyt_store::projections::RebuildMode::Replace
                    },
                    &mut progress_bar,
                )
                .await?;
            eprintln!();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{} the views of {} orders ({} events) in {:.1} s: {:.0} events/s{}",
                if verify { "verified" } else { "rebuilt" },
                report.orders,
                report.events,
                secs,
                report.events as f64 / secs.max(1e-9),
                if report.failed > 0 {
                    format!("; {} orders could not be read (see the log)", report.failed)
                } else {
                    String::new()
                }
            );
            if verify {
                for d in &report.differences {
                    println!("{}\t{}\t{}", d.table, d.kind, d.key);
                }
                if report.differences.is_empty() {
                    println!("every row of the live views matches the rebuild");
                } else {
                    println!("{} rows differ from the rebuild", report.differences.len());
                    std::process::exit(1);
                }
            }
            Ok(())
        }
        Command::Verify { order } => {
            let pool = tool_pool().await?;
            if !xyt_server::disputes::verify(&pool, order.as_deref()).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Audit { order_no, at, json } => {
            let pool = tool_pool().await?;
            let format = if json {
                xyt_server::disputes::AuditFormat::Json
            } else {
                xyt_server::disputes::AuditFormat::Text
            };
            xyt_server::disputes::audit(&pool, &order_no, at, format).await
        }
        Command::Dispute { command } => dispute_command(command).await,
        Command::User { command } => user_command(command).await,
        Command::ApiKey { command } => api_key_command(command).await,
        Command::Serve { demo: with_demo } => {
            init_tracing();
            let config = EnvConfig::from_env()?;
            let listener = TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
            let creds = config.xgj.clone();
            let running = app::start(config, listener).await?;
            let base = format!("http://{}", running.addr);
            if with_demo && demo::is_empty(&running.state.pool).await? {
                demo::load_config(&running.state.pool).await?;
                demo::send_orders(&XgjSupplyClient::new(format!("{base}/xgj"), creds)).await?;
                println!("demo config and orders loaded");
            }
            let admin_line = if with_demo {
                Some(match demo::ensure_admin(&running.state.pool).await? {
                    Some(password) => {
                        format!("admin / {password}   (shown once; change it with `xyt user passwd admin`)")
                    }
                    None => "admin (exists; reset its password with `xyt user passwd admin`)".to_string(),
                })
            } else {
                None
            };
            println!("xy-ticket is serving on {base}");
            println!("  console:      {base}/   (built from frontend/: npm ci && npm run build)");
            println!("  admin API:    {base}/api/orders");
            println!("  API docs:     {base}/docs/");
            println!("  OpenAPI:      {base}/api/openapi.json");
            println!("  XGJ gateway:  {base}/xgj   (enter https://<your host>/xgj in XGJ)");
            println!("  ERP push URL: {base}/xgj/erp/order-push");
            if let Some(line) = admin_line {
                println!("  sign in:      {line}");
            }
            shutdown_signal().await;
            tracing::info!("shutting down");
            running.stop().await;
            Ok(())
        }
        Command::Xgj { command } => {
            let config = EnvConfig::from_env()?;
            let now = chrono::Utc::now().timestamp();
            match command {
                XgjCommand::SendTestOrder {
                    gateway,
                    order_no,
                    goods_no,
                    quantity,
                    max_amount,
                    seed,
                } => {
                    let client = XgjSupplyClient::new(gateway, config.xgj);
                    let mut body = if seed {
                        demo::seed_purchase()
                    } else {
                        let no = order_no.unwrap_or_else(|| {
                            use rand::Rng;
                            format!("45{:017}", rand::thread_rng().gen_range(0..10u64.pow(17)))
                        });
                        demo::purchase(&no, &goods_no, quantity)
                    };
                    if let Some(m) = max_amount {
                        body["max_amount"] = m.into();
                    }
                    let call = client.supply_call("/goofish/order/purchase/create", &body, now);
                    println!("POST {}\n{}", call.url, String::from_utf8_lossy(&call.body));
                    let answer = client.send(&call).await?;
                    println!("{}", serde_json::to_string_pretty(&answer)?);
                }
                XgjCommand::SendErpPush {
                    gateway,
                    order_no,
                    order_status,
                    refund_status,
                } => {
                    let client = XgjSupplyClient::new(gateway, config.xgj);
                    let body = serde_json::json!({
                        "seller_id": 10001, "user_name": "test", "order_no": order_no, "order_type": 1,
                        "order_status": order_status, "refund_status": refund_status, "modify_time": now
                    });
                    let call = client.erp_call("/erp/order-push", &body, now);
                    println!("POST {}\n{}", call.url, String::from_utf8_lossy(&call.body));
                    let answer = client.send(&call).await?;
                    println!("{}", serde_json::to_string_pretty(&answer)?);
                }
            }
            Ok(())
        }
    }
}
