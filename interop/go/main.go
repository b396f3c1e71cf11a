// A go-libp2p node running github.com/waku-org/go-libp2p-rendezvous, driven
// over stdio by libp2p-rendezvous's interop tests (test/interop/go.node.ts)
// and benchmarks. The protocol is described in interop/README.md.
//
//	rendezvous-interop-go point [--listen MULTIADDR] [--db PATH] [--resource-limits default|unlimited]
//	  a rendezvous point on SQLite (":memory:" by default) with the
//	  package's limits, which are constants: no minimum TTL, at most 72 h,
//	  1000 registrations per peer, 1000 per DISCOVER. go-libp2p's resource
//	  manager limits connections and streams (about 250 inbound connections
//	  at its defaults) and its connection manager trims them to 160 past 192;
//	  `--resource-limits unlimited` lifts both, for loads
//	rendezvous-interop-go client <point multiaddr> [--listen MULTIADDR]
//	  a rendezvous client (the package's RendezvousPoint) connected to that
//	  point
//
// Both are go-libp2p's default host over TCP, noise and yamux only, and
// listen on 127.0.0.1 only.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	rendezvous "github.com/waku-org/go-libp2p-rendezvous"
	sqlite "github.com/waku-org/go-libp2p-rendezvous/db/sqlite"
)

// how long one client request may take
const requestTimeout = 10 * time.Second

type command struct {
	ID     json.RawMessage `json:"id"`
	Cmd    string          `json:"cmd"`
	Ns     string          `json:"ns"`
	TTL    int             `json:"ttl"`
	Limit  int             `json:"limit"`
	Cookie *string         `json:"cookie"`
}

type registration struct {
	PeerID     string   `json:"peerId"`
	Multiaddrs []string `json:"multiaddrs"`
	Ns         string   `json:"ns"`
	TTL        int      `json:"ttl"`
}

var out = json.NewEncoder(os.Stdout)

func answer(message any) {
	if err := out.Encode(message); err != nil {
		fmt.Fprintf(os.Stderr, "rendezvous-interop-go: writing an answer failed: %s\n", err)
	}
}

func fail(message string) {
	fmt.Fprintf(os.Stderr, "rendezvous-interop-go: %s\nusage: rendezvous-interop-go point [--listen MULTIADDR] [--db PATH] [--resource-limits default|unlimited]\n       rendezvous-interop-go client <point multiaddr> [--listen MULTIADDR]\n", message)
	os.Exit(2)
}

// parseArgs splits `--name value` flags from positional arguments
func parseArgs(args []string) ([]string, map[string]string) {
	var positional []string
	flags := map[string]string{}

	for i := 0; i < len(args); i++ {
		if len(args[i]) > 2 && args[i][:2] == "--" {
			if i+1 == len(args) {
				fail(args[i] + " needs a value")
			}
			flags[args[i][2:]] = args[i+1]
			i++
		} else {
			positional = append(positional, args[i])
		}
	}

	return positional, flags
}

func newHost(listen string, options ...libp2p.Option) (host.Host, error) {
	address, err := ma.NewMultiaddr(listen)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}

	if ip, err := manet.ToIP(address); err != nil || !ip.IsLoopback() || ip.To4() == nil {
		return nil, fmt.Errorf("--listen must be a 127.0.0.x address, not %s", listen)
	}

	return libp2p.New(append([]libp2p.Option{
		libp2p.ListenAddrs(address),
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
	}, options...)...)
}

func ready(h host.Host, role string) {
	multiaddrs := []string{}
	for _, address := range h.Addrs() {
		multiaddrs = append(multiaddrs, address.Encapsulate(ma.StringCast("/p2p/"+h.ID().String())).String())
	}
	answer(map[string]any{"ready": true, "role": role, "peerId": h.ID().String(), "multiaddrs": multiaddrs})
}

func registrationOf(envelope []byte, ns string, ttl int) (registration, error) {
	_, rec, err := record.ConsumeEnvelope(envelope, peer.PeerRecordEnvelopeDomain)
	if err != nil {
		return registration{}, err
	}

	peerRecord, ok := rec.(*peer.PeerRecord)
	if !ok {
		return registration{}, errors.New("not a peer record")
	}

	multiaddrs := []string{}
	for _, address := range peerRecord.Addrs {
		multiaddrs = append(multiaddrs, address.String())
	}

	return registration{PeerID: peerRecord.PeerID.String(), Multiaddrs: multiaddrs, Ns: ns, TTL: ttl}, nil
}

// serve answers the commands read from stdin, one at a time, until its end
func serve(run func(command) (any, error)) {
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<16), 1<<20)

	for lines.Scan() {
		if len(lines.Bytes()) == 0 {
			continue
		}

		var c command
		if err := json.Unmarshal(lines.Bytes(), &c); err != nil {
			answer(map[string]any{"error": "not JSON: " + err.Error()})
			continue
		}

		result, err := run(c)
		if err == nil {
			answer(map[string]any{"id": c.ID, "result": result})
			continue
		}

		message := map[string]any{"id": c.ID, "error": err.Error()}
		var status rendezvous.RendezvousError
		if errors.As(err, &status) {
			message["status"] = status.Status.String()
		}
		answer(message)
	}
}

func runPoint(flags map[string]string) error {
	var options []libp2p.Option
	switch limits := flagOr(flags, "resource-limits", "default"); limits {
	case "default":
	case "unlimited":
		// nor does go-libp2p's default connection manager trim connections
		// past 192 down to 160 once they are a minute old
		options = append(options, libp2p.ResourceManager(&network.NullResourceManager{}), libp2p.ConnectionManager(connmgr.NullConnMgr{}))
	default:
		return fmt.Errorf("--resource-limits must be default or unlimited, not %s", limits)
	}

	h, err := newHost(flagOr(flags, "listen", "/ip4/127.0.0.1/tcp/0"), options...)
	if err != nil {
		return err
	}
	defer h.Close()

	db, err := sqlite.OpenDB(context.Background(), flagOr(flags, "db", ":memory:"))
	if err != nil {
		return err
	}
	defer db.Close()

	rendezvous.NewRendezvousService(h, db)
	ready(h, "point")

	serve(func(c command) (any, error) {
		switch c.Cmd {
		case "registrations":
			// the store's own listing; without a namespace its registrations
			// carry ns = "", as in its DISCOVER answers
			records, _, err := db.Discover(c.Ns, nil, rendezvous.MaxDiscoverLimit)
			if err != nil {
				return nil, err
			}

			found := []registration{}
			for _, r := range records {
				reg, err := registrationOf(r.SignedPeerRecord, c.Ns, r.Ttl)
				if err != nil {
					return nil, err
				}
				found = append(found, reg)
			}
			return found, nil
		default:
			return nil, fmt.Errorf("unknown point command %q", c.Cmd)
		}
	})

	return nil
}

func runClient(point string, flags map[string]string) error {
	pointInfo, err := peer.AddrInfoFromString(point)
	if err != nil {
		return fmt.Errorf("point multiaddr: %w", err)
	}

	if ip, err := manet.ToIP(pointInfo.Addrs[0]); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("the rendezvous point must be on a loopback address, not %s", point)
	}

	h, err := newHost(flagOr(flags, "listen", "/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		return err
	}
	defer h.Close()

	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	// Connect returns once identify has run on the new connection
	err = h.Connect(ctx, *pointInfo)
	cancel()
	if err != nil {
		return fmt.Errorf("cannot reach the point: %w", err)
	}

	rp := rendezvous.NewRendezvousPoint(h, pointInfo.ID)
	ready(h, "client")

	serve(func(c command) (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()

		switch c.Cmd {
		case "register":
			ttl, err := rp.Register(ctx, c.Ns, c.TTL)
			if err != nil {
				return nil, err
			}
			return map[string]any{"ttl": int(ttl / time.Second)}, nil
		case "discover":
			var cookie []byte
			if c.Cookie != nil {
				if cookie, err = hex.DecodeString(*c.Cookie); err != nil {
					return nil, err
				}
			}

			registrations, next, err := rp.Discover(ctx, c.Ns, c.Limit, cookie)
			if err != nil {
				return nil, err
			}

			found := []registration{}
			for _, r := range registrations {
				multiaddrs := []string{}
				for _, address := range r.Peer.Addrs {
					multiaddrs = append(multiaddrs, address.String())
				}
				found = append(found, registration{PeerID: r.Peer.ID.String(), Multiaddrs: multiaddrs, Ns: r.Ns, TTL: r.Ttl})
			}

			// a point may leave the cookie out (go's does when nothing matched)
			var cookieHex *string
			if next != nil {
				encoded := hex.EncodeToString(next)
				cookieHex = &encoded
			}
			return map[string]any{"registrations": found, "cookie": cookieHex}, nil
		case "unregister":
			// UNREGISTER has no response: this returns once it is written
			return nil, rp.Unregister(ctx, c.Ns)
		default:
			return nil, fmt.Errorf("unknown client command %q", c.Cmd)
		}
	})

	return nil
}

func flagOr(flags map[string]string, name string, otherwise string) string {
	if value, ok := flags[name]; ok {
		return value
	}
	return otherwise
}

func main() {
	positional, flags := parseArgs(os.Args[1:])

	// stop on SIGTERM or SIGINT as on the end of stdin
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		os.Exit(0)
	}()

	var err error
	switch {
	case len(positional) == 1 && positional[0] == "point":
		err = runPoint(flags)
	case len(positional) == 2 && positional[0] == "client":
		err = runClient(positional[1], flags)
	default:
		fail(fmt.Sprintf("unknown role or arguments %q", positional))
	}

	if err != nil {
		fail(err.Error())
	}
}
