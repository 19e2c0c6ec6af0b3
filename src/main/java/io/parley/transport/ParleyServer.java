package io.parley.transport;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.parley.account.Accounts;
import io.parley.chat.RoomAccess;
import io.parley.chat.Sanctions;
import io.parley.config.ServerConfig;
import io.parley.engine.cluster.RoomNotices;
import io.parley.engine.Broker;
import io.parley.engine.LocalBroker;
import io.parley.engine.RedisBroker;
import io.parley.protocol.ProtocolCodec;
import io.parley.store.HistoryStore;
import io.parley.store.PostgresHistoryStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A running Parley node: the store, the engine and the network, started together and stopped in the
 * order that loses nothing.
 *
 * <p>Start: open the accounts (their database gives the token secret when none is configured), open
 * the store (SQLite, or PostgreSQL with {@code --postgres-url}), start the engine's
 * sequencer, bind the port. Stop ({@link #close()}, also run on SIGTERM by {@code parley serve}): stop
 * accepting connections; let the engine finish every queued command, so each message a client sent
 * before the stop is stored and acknowledged; close every WebSocket with 1001; stop the event loops; close the store.
 *
 * <p>Threads: one acceptor thread; one event loop per core for connections (a connection stays on
 * one loop for its life); the engine's sequencer and history readers. See docs/ARCHITECTURE.md. If
 * any of them dies, or memory runs out, {@link FatalErrors} hears of it: {@code parley serve} then ends
 * the process.
 */
public final class ParleyServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ParleyServer.class);

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final ServerConfig config;
    /** Every thread of this server has a name that starts with this and a dash. */
    private final String name;
    private final HistoryStore store;
    private final Accounts accounts;
    /** Who may do what in which room; closed with the accounts, whose database holds the rooms. */
    private RoomAccess rooms;
    /** Room changes announced to and heard from the other nodes; null on a single node. */
    private RoomNotices notices;
    private final Broker broker;
    private final Sanctions sanctions;
    private final EventLoopGroup acceptor;
    private final EventLoopGroup workers;
    private final ChannelGroup sockets = new DefaultChannelGroup("chat-sockets", GlobalEventExecutor.INSTANCE);
    /** Every open connection, WebSocket or not: an idle keep-alive HTTP connection must close too. */
    private final ChannelGroup connections = new DefaultChannelGroup("connections", GlobalEventExecutor.INSTANCE);
    private final Channel listener;
    private final FatalErrors fatal;
    /** Set when close begins: from then on an event loop that ends is expected to. */
    private volatile boolean closing;

    private ParleyServer(ServerConfig given, String name, FatalErrors fatal) throws Exception {
        this.fatal = fatal;
        this.name = name;
        // First, so the token secret a later step needs is known: the configured one, or the database's.
        accounts = Accounts.open(given, name);
        ServerConfig config = given.access().tokenSecret() != null ? given
                : given.withAccess(given.access().withTokenSecret(accounts.tokenSecret()));
        this.config = config;
        try {
            rooms = new RoomAccess(accounts.rooms(), config.access().createRoomsOnJoin(), name);
            notices = config.redis() != null ? RoomNotices.connect(config.redis(), rooms::noticed) : null;
            if (notices != null) {
                rooms.announceWith(notices::publish);
            }
        } catch (RuntimeException e) {
            if (rooms != null) {
                rooms.close();
            }
            accounts.close();
            throw e;
        }
        SslContext tls;
        StaticFiles files;
        try {
            tls = config.tls()
                    ? SslContextBuilder.forServer(config.tlsCert().toFile(), config.tlsKey().toFile()).build()
                    : null;
            files = StaticFiles.load();
            store = config.postgres() != null
                    ? PostgresHistoryStore.open(config.postgres())
                    : HistoryStore.openSqlite(config.dataDir(), config.durableSync(), config.sqliteBusyTimeout());
        } catch (Exception | Error e) {
            closeAccounts();
            throw e;
        }
        ProtocolCodec codec = new ProtocolCodec();
        try {
            broker = config.redis() != null
                    ? RedisBroker.start((PostgresHistoryStore) store, config.redis(), codec, config.historyOnJoin(),
                            config.retainMessages(), config.presenceNamesUpTo(), config.presenceGrace().toMillis(),
                            name, fatal)
                    : new LocalBroker(store, codec, config.historyOnJoin(), config.retainMessages(),
                            config.presenceNamesUpTo(), config.presenceGrace().toMillis(), name, fatal);
        } catch (RuntimeException e) {
            store.close();
            closeAccounts();
            throw e;
        }
        try {
            sanctions = Sanctions.start(accounts.store(), broker, name);
        } catch (RuntimeException e) {
            broker.close();
            store.close();
            closeAccounts();
            throw e;
        }
        acceptor = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory(name + "-accept"),
                NioIoHandler.newFactory());
        workers = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                new DefaultThreadFactory(name + "-loop"), NioIoHandler.newFactory());
        watch(acceptor, "acceptor");
        watch(workers, "worker");
        try {
            // Counted now, with the store and the event loops open, so their descriptors are counted too.
            ConnectionCounts counts = new ConnectionCounts(DescriptorBudget.connections(config.admission().maxConnections()),
                    config.admission().maxConnectionsPerIp());
            ChatChannelInitializer pipeline = new ChatChannelInitializer(config, tls, broker, codec, sockets, connections,
                    files, counts, fatal, accounts, rooms, sanctions);
            AcceptGate gate = new AcceptGate(counts, config.admission().trustedProxies(), tls != null);
            workers.scheduleAtFixedRate(pipeline::forgetIdleUsers, 10, 10, TimeUnit.SECONDS);
            listener = new ServerBootstrap()
                    .group(acceptor, workers)
                    .channel(NioServerSocketChannel.class)
                    // Connections the kernel may hold before they are accepted. 19,000 clients connecting
                    // at once overflowed a backlog of 1024 3,717 times (nstat TcpExtListenOverflows), each
                    // a dropped SYN the client resends only after 1 s, 3 s, 7 s... The kernel caps this at
                    // net.core.somaxconn (4096 on Linux since 5.4): see docs/OPERATIONS.md.
                    .option(ChannelOption.SO_BACKLOG, 16_384)
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel listening) {
                            // Netty logs and drops what goes wrong while accepting, an OutOfMemoryError
                            // too: the watch sees it first.
                            listening.pipeline().addLast("fatal", fatal.watch()).addLast("accept", gate);
                        }
                    })
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(pipeline)
                    .bind(config.host(), config.port())
                    .sync()
                    .channel();
        } catch (Exception e) {
            closing = true;
            shutdownLoops();
            sanctions.close();
            broker.close();
            store.close();
            closeAccounts();
            throw e;
        }
        log.info("Parley listening on {}://{}:{}/ (history in {}{})", config.tls() ? "https" : "http", config.host(),
                port(), config.postgres() != null ? config.postgres() : config.dataDir().toAbsolutePath(),
                config.redis() != null ? ", rooms shared over Redis at " + config.redis() : "");
    }

    /** Starts a server that only logs a fatal error ({@link FatalErrors#logging()}); returns once it accepts connections. */
    public static ParleyServer start(ServerConfig config) throws Exception {
        return start(config, FatalErrors.logging());
    }

    /** Starts a server that reports fatal errors to {@code fatal}; returns once it accepts connections. */
    public static ParleyServer start(ServerConfig config, FatalErrors fatal) throws Exception {
        int n = INSTANCES.incrementAndGet();
        return new ParleyServer(config, n == 1 ? "parley" : "parley" + n, fatal);
    }

    /**
     * Starts a server whose threads are named {@code name-...}: several servers in one JVM (tests) can
     * then tell their threads, and so their log lines, apart.
     */
    public static ParleyServer start(ServerConfig config, String name) throws Exception {
        return new ParleyServer(config, name, FatalErrors.logging());
    }

    /**
     * An event loop ends only when it is shut down, or when an Error escapes its run loop (Netty logs it
     * and ends the thread). Without it, its connections hang, or nothing is accepted any more.
     */
    private void watch(EventLoopGroup group, String role) {
        for (EventExecutor loop : group) {
            loop.terminationFuture().addListener(ended -> {
                if (!closing) {
                    fatal.died("the " + role + " event loop", ended.cause());
                }
            });
        }
    }

    /** The port actually bound (useful when the config asked for 0). */
    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    /** What the names of this server's threads start with, before a dash. */
    public String name() {
        return name;
    }

    public ServerConfig config() {
        return config;
    }

    /** Stops gracefully; see the class comment for the order. Safe to call twice. */
    @Override
    public synchronized void close() {
        if (closing) {
            return;
        }
        closing = true;
        log.info("Parley stopping: finishing queued messages, closing {} connections", sockets.size());
        listener.close().syncUninterruptibly();
        sanctions.close();
        broker.close();
        for (Channel channel : sockets) {
            channel.eventLoop().execute(() -> {
                ChatSocket socket = channel.pipeline().get(ChatSocket.class);
                if (socket != null) {
                    socket.close(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE.code(), "server shutting down");
                }
            });
        }
        // Give clients a moment to answer the close frames; force what is left.
        sockets.newCloseFuture().awaitUninterruptibly(3, TimeUnit.SECONDS);
        sockets.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
        // Plain HTTP connections (idle keep-alives, long polls) are closed here, not left to the event
        // loops' shutdown, which can end a loop without closing its channels.
        connections.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
        shutdownLoops();
        try {
            store.close();
        } catch (Exception e) {
            log.warn("closing the store failed", e);
        }
        try {
            closeAccounts();
        } catch (Exception e) {
            log.warn("closing the accounts failed", e);
        }
        log.info("Parley stopped");
    }

    /** The rooms' notices, their cache and the accounts' database, in that order. */
    private void closeAccounts() {
        if (notices != null) {
            notices.close();
        }
        rooms.close();
        accounts.close();
    }

    private void shutdownLoops() {
        acceptor.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        acceptor.terminationFuture().syncUninterruptibly();
    }
}
