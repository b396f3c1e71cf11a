//! A rust-libp2p node running libp2p-rendezvous, driven over stdio by
//! libp2p-rendezvous's interop tests (test/interop/rust.node.ts) and
//! benchmarks. The protocol is described in interop/README.md.
//!
//!   rendezvous-interop-rust point [--min-ttl S] [--max-ttl S]
//!       [--max-registrations-per-peer N] [--max-registrations N]
//!       [--max-cookies N] [--idle-timeout S] [--listen MULTIADDR]
//!     a rendezvous point configured as libp2p-rendezvous's defaults, except
//!     for the limits given
//!   rendezvous-interop-rust client <point multiaddr> [--idle-timeout S]
//!       [--ready-when both|point]
//!     a rendezvous client connected to that point, ready once it and the
//!     point have identified each other (both), or once it has identified
//!     the point (point: for a point that asks a client's identify only
//!     when it must, as the rendezvous-server command)
//!
//! Both run identify (agent version rust-libp2p/<version>), as rust-libp2p's
//! rendezvous example does, and listen on 127.0.0.1 only.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm, SwarmBuilder, identify,
    multiaddr::Protocol,
    noise, rendezvous,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(NetworkBehaviour)]
struct PointBehaviour {
    identify: identify::Behaviour,
    rendezvous: rendezvous::server::Behaviour,
}

#[derive(NetworkBehaviour)]
struct ClientBehaviour {
    identify: identify::Behaviour,
    rendezvous: rendezvous::client::Behaviour,
}

/// Flags as `--name value` pairs, positional arguments in order
struct Args {
    positional: Vec<String>,
    flags: HashMap<String, String>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut positional = Vec::new();
        let mut flags = HashMap::new();
        let mut args = std::env::args().skip(1);

        while let Some(arg) = args.next() {
            if let Some(name) = arg.strip_prefix("--") {
                let value = args.next().ok_or(format!("--{name} needs a value"))?;
                flags.insert(name.to_owned(), value);
            } else {
                positional.push(arg);
            }
        }

        Ok(Self { positional, flags })
    }

    fn number(&self, name: &str) -> Result<Option<u64>, String> {
        self.flags
            .get(name)
            .map(|value| value.parse().map_err(|_| format!("--{name} is not a number: {value}")))
            .transpose()
    }
}

fn usage(message: &str) -> ! {
    eprintln!(
        "rendezvous-interop-rust: {message}\nusage: rendezvous-interop-rust point [--min-ttl S] [--max-ttl S] [--max-registrations-per-peer N] [--max-registrations N] [--max-cookies N] [--idle-timeout S] [--listen MULTIADDR]\n       rendezvous-interop-rust client <point multiaddr> [--idle-timeout S] [--ready-when both|point]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args = Args::parse().unwrap_or_else(|err| usage(&err));

    let result = match args.positional.first().map(String::as_str) {
        Some("point") => run_point(&args).await,
        Some("client") => run_client(&args).await,
        other => usage(&format!("unknown role {other:?}")),
    };

    if let Err(err) = result {
        usage(&err)
    }
}

fn identify_config(key: &libp2p::identity::Keypair) -> identify::Config {
    identify::Config::new("/rendezvous-interop/1.0.0".to_owned(), key.public())
}

/// The swarm's idle connection timeout: libp2p's default (10 s) unless given
fn idle_timeout(args: &Args) -> Result<Option<Duration>, String> {
    Ok(args.number("idle-timeout")?.map(Duration::from_secs))
}

fn listen_address(args: &Args) -> Result<Multiaddr, String> {
    let address: Multiaddr = args
        .flags
        .get("listen")
        .map(String::as_str)
        .unwrap_or("/ip4/127.0.0.1/tcp/0")
        .parse()
        .map_err(|err| format!("--listen: {err}"))?;

    match address.iter().next() {
        Some(Protocol::Ip4(ip)) if ip.is_loopback() => Ok(address),
        _ => Err(format!("--listen must be a 127.0.0.x address, not {address}")),
    }
}

macro_rules! build_swarm {
    ($behaviour:expr, $idle:expr) => {
        SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
            .map_err(|err| err.to_string())?
            .with_behaviour($behaviour)
            .map_err(|err| err.to_string())?
            .with_swarm_config(|config| match $idle {
                Some(timeout) => config.with_idle_connection_timeout(timeout),
                None => config,
            })
            .build()
    };
}

fn answer(message: Value) {
    // one line, flushed, so the driver sees it at once
    println!("{message}");
}

fn with_peer_id(address: &Multiaddr, peer_id: PeerId) -> String {
    address.clone().with(Protocol::P2p(peer_id)).to_string()
}

/// A spec status name, e.g. `E_INVALID_TTL`
fn status_name(code: rendezvous::ErrorCode) -> &'static str {
    use rendezvous::ErrorCode::*;

    match code {
        InvalidNamespace => "E_INVALID_NAMESPACE",
        InvalidSignedPeerRecord => "E_INVALID_SIGNED_PEER_RECORD",
        InvalidTtl => "E_INVALID_TTL",
        InvalidCookie => "E_INVALID_COOKIE",
        NotAuthorized => "E_NOT_AUTHORIZED",
        InternalError => "E_INTERNAL_ERROR",
        Unavailable => "E_UNAVAILABLE",
    }
}

fn registration_json(peer_id: PeerId, addresses: &[Multiaddr], namespace: &str, ttl: u64) -> Value {
    json!({
        "peerId": peer_id.to_string(),
        "multiaddrs": addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "ns": namespace,
        "ttl": ttl,
    })
}

/// Reads one JSON command a line from stdin
struct Commands {
    lines: tokio::io::Lines<BufReader<tokio::io::Stdin>>,
}

impl Commands {
    fn new() -> Self {
        Self { lines: BufReader::new(tokio::io::stdin()).lines() }
    }

    /// The next command, `None` at the end of stdin
    async fn next(&mut self) -> Option<Value> {
        loop {
            let line = self.lines.next_line().await.ok()??;

            if line.trim().is_empty() {
                continue;
            }

            match serde_json::from_str::<Value>(&line) {
                Ok(command) => return Some(command),
                Err(err) => answer(json!({ "error": format!("not JSON: {err}") })),
            }
        }
    }
}

fn namespace_of(command: &Value) -> Result<Option<rendezvous::Namespace>, String> {
    match command.get("ns").and_then(Value::as_str) {
        None => Ok(None),
        Some(ns) => rendezvous::Namespace::new(ns.to_owned())
            .map(Some)
            .map_err(|err| err.to_string()),
    }
}

async fn run_point(args: &Args) -> Result<(), String> {
    let mut config = rendezvous::server::Config::default();

    if let Some(s) = args.number("min-ttl")? {
        config = config.with_min_ttl(s);
    }
    if let Some(s) = args.number("max-ttl")? {
        config = config.with_max_ttl(s);
    }
    if let Some(n) = args.number("max-registrations-per-peer")? {
        config = config.with_max_registration_per_peer(n as usize);
    }
    if let Some(n) = args.number("max-registrations")? {
        config = config.with_max_registration_total(n as usize);
    }
    if let Some(n) = args.number("max-cookies")? {
        config = config.with_max_stored_cookies(n as usize);
    }

    let idle = idle_timeout(args)?;
    let mut swarm: Swarm<PointBehaviour> = build_swarm!(
        |key| PointBehaviour {
            identify: identify::Behaviour::new(identify_config(key)),
            rendezvous: rendezvous::server::Behaviour::new(config),
        },
        idle
    );
    swarm
        .listen_on(listen_address(args)?)
        .map_err(|err| err.to_string())?;

    // what the point holds, from its events: the behaviour has no accessor
    let mut held: HashMap<(String, PeerId), (Vec<Multiaddr>, Instant)> = HashMap::new();
    let mut commands = Commands::new();
    let mut ready = false;

    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } if !ready => {
                    ready = true;
                    answer(json!({
                        "ready": true,
                        "role": "point",
                        "peerId": swarm.local_peer_id().to_string(),
                        "multiaddrs": [with_peer_id(&address, *swarm.local_peer_id())],
                    }));
                }
                SwarmEvent::Behaviour(PointBehaviourEvent::Rendezvous(event)) => match event {
                    rendezvous::server::Event::PeerRegistered { peer, registration } => {
                        let expires = Instant::now() + Duration::from_secs(registration.ttl);
                        held.insert((registration.namespace.to_string(), peer), (registration.record.addresses().to_vec(), expires));
                    }
                    rendezvous::server::Event::PeerUnregistered { peer, namespace } => {
                        held.remove(&(namespace.to_string(), peer));
                    }
                    rendezvous::server::Event::RegistrationExpired(registration) => {
                        held.remove(&(registration.namespace.to_string(), registration.record.peer_id()));
                    }
                    _ => {}
                },
                _ => {}
            },
            command = commands.next(), if ready => {
                let Some(command) = command else { return Ok(()) };
                let id = command.get("id").cloned().unwrap_or(Value::Null);

                match command.get("cmd").and_then(Value::as_str) {
                    Some("registrations") => {
                        let ns = command.get("ns").and_then(Value::as_str).unwrap_or("");
                        let now = Instant::now();
                        let found: Vec<Value> = held
                            .iter()
                            .filter(|((namespace, _), (_, expires))| namespace == ns && *expires > now)
                            .map(|((namespace, peer), (addresses, expires))| {
                                registration_json(*peer, addresses, namespace, (*expires - now).as_secs())
                            })
                            .collect();
                        answer(json!({ "id": id, "result": found }));
                    }
                    other => answer(json!({ "id": id, "error": format!("unknown point command {other:?}") })),
                }
            }
        }
    }
}

/// A command of the client waiting for the event that answers it
enum Pending {
    Register(Value),
    Discover(Value),
}

async fn run_client(args: &Args) -> Result<(), String> {
    let point: Multiaddr = args
        .positional
        .get(1)
        .ok_or("client needs a rendezvous point multiaddr")?
        .parse()
        .map_err(|err| format!("point multiaddr: {err}"))?;
    let Some(Protocol::P2p(point_id)) = point.iter().last() else {
        return Err(format!("{point} has no /p2p/<peer id>"));
    };

    let idle = idle_timeout(args)?;
    let wait_for_point = match args.flags.get("ready-when").map(String::as_str) {
        None | Some("both") => true,
        Some("point") => false,
        Some(other) => return Err(format!("--ready-when must be both or point, not {other}")),
    };
    let mut swarm: Swarm<ClientBehaviour> = build_swarm!(
        |key| ClientBehaviour {
            identify: identify::Behaviour::new(identify_config(key)),
            rendezvous: rendezvous::client::Behaviour::new(key.clone()),
        },
        idle
    );
    swarm
        .listen_on(listen_address(args)?)
        .map_err(|err| err.to_string())?;
    swarm.dial(point.clone()).map_err(|err| err.to_string())?;

    let mut commands = Commands::new();
    let mut listening: Option<Multiaddr> = None;
    // ready once the point and this client have identified each other, so
    // a point that tells clients apart by their agent version knows this one
    let mut identified_point = false;
    let mut identified_by_point = false;
    let mut ready = false;
    let mut pending: Option<Pending> = None;

    loop {
        if !ready && listening.is_some() && identified_point && (identified_by_point || !wait_for_point) {
            ready = true;
            answer(json!({
                "ready": true,
                "role": "client",
                "peerId": swarm.local_peer_id().to_string(),
                "multiaddrs": [with_peer_id(listening.as_ref().unwrap(), *swarm.local_peer_id())],
            }));
        }

        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    // the address this client signs in its peer record: it
                    // has no other way to learn an external one here
                    swarm.add_external_address(address.clone());
                    listening.get_or_insert(address);
                }
                SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } if peer == point_id => {
                    return Err(format!("cannot reach the point: {error}"));
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, .. } if peer_id == point_id => {
                    eprintln!("rendezvous-interop-rust: connection to the point closed ({cause:?})");
                }
                SwarmEvent::Behaviour(ClientBehaviourEvent::Identify(event)) => match event {
                    identify::Event::Received { peer_id, .. } if peer_id == point_id => identified_point = true,
                    identify::Event::Sent { peer_id, .. } if peer_id == point_id => identified_by_point = true,
                    _ => {}
                },
                SwarmEvent::Behaviour(ClientBehaviourEvent::Rendezvous(event)) => {
                    if let Some(message) = answer_for(&mut pending, event) {
                        answer(message);
                    }
                }
                _ => {}
            },
            command = commands.next(), if ready && pending.is_none() => {
                let Some(command) = command else { return Ok(()) };
                let id = command.get("id").cloned().unwrap_or(Value::Null);

                if let Err(err) = issue(&mut swarm, point_id, &command, &mut pending) {
                    answer(json!({ "id": id, "error": err }));
                }
            }
        }
    }
}

/// Sends a client command's request; `pending` waits for its event, if any
fn issue(
    swarm: &mut Swarm<ClientBehaviour>,
    point: PeerId,
    command: &Value,
    pending: &mut Option<Pending>,
) -> Result<(), String> {
    let id = command.get("id").cloned().unwrap_or(Value::Null);
    let rendezvous = &mut swarm.behaviour_mut().rendezvous;

    match command.get("cmd").and_then(Value::as_str) {
        Some("register") => {
            let namespace = namespace_of(command)?.ok_or("register needs ns")?;
            let ttl = command.get("ttl").and_then(Value::as_u64);
            rendezvous
                .register(namespace, point, ttl)
                .map_err(|err| err.to_string())?;
            *pending = Some(Pending::Register(id));
        }
        Some("discover") => {
            let cookie = match command.get("cookie").and_then(Value::as_str) {
                None => None,
                Some(hex) => Some(
                    rendezvous::Cookie::from_wire_encoding(hex::decode(hex).map_err(|err| err.to_string())?)
                        .map_err(|err| err.to_string())?,
                ),
            };
            let limit = command.get("limit").and_then(Value::as_u64);
            rendezvous.discover(namespace_of(command)?, cookie, limit, point);
            *pending = Some(Pending::Discover(id));
        }
        Some("unregister") => {
            // fire and forget: rust-libp2p's client has no event for it
            rendezvous.unregister(namespace_of(command)?.ok_or("unregister needs ns")?, point);
            answer(json!({ "id": id, "result": null }));
        }
        other => return Err(format!("unknown client command {other:?}")),
    }

    Ok(())
}

/// The answer to the pending command that a rendezvous event settles
fn answer_for(pending: &mut Option<Pending>, event: rendezvous::client::Event) -> Option<Value> {
    use rendezvous::client::Event::*;

    let message = match (pending.take(), event) {
        (Some(Pending::Register(id)), Registered { ttl, .. }) => json!({ "id": id, "result": { "ttl": ttl } }),
        (Some(Pending::Register(id)), RegisterFailed { error, .. }) => {
            json!({ "id": id, "error": format!("register failed: {error:?}"), "status": status_name(error) })
        }
        (Some(Pending::Discover(id)), Discovered { registrations, cookie, .. }) => {
            let cookie = cookie.into_wire_encoding();
            json!({ "id": id, "result": {
                "registrations": registrations
                    .iter()
                    .map(|r| registration_json(r.record.peer_id(), r.record.addresses(), &r.namespace.to_string(), r.ttl))
                    .collect::<Vec<_>>(),
                "cookie": hex::encode(&cookie),
            } })
        }
        (Some(Pending::Discover(id)), DiscoverFailed { error, .. }) => {
            json!({ "id": id, "error": format!("discover failed: {error:?}"), "status": status_name(error) })
        }
        (still_pending, event) => {
            // an event for no command (e.g. Expired): keep waiting
            eprintln!("rendezvous-interop-rust: {event:?}");
            *pending = still_pending;
            return None;
        }
    };

    Some(message)
}
