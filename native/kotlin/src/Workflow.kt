// The Kotlin test program: the generated bindings on the JVM (JNA), on the same workflow as the Python suite.
// Run by scripts/test-native.sh: `java ... WorkflowKt <scratch dir> <sync server URL> <token>`; prints
// "N passed, N failed" and exits non-zero on any failure.

import io.github.eventlite.*
import java.io.File
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.concurrent.thread

private var passed = 0
private var failed = 0

private fun check(name: String, body: () -> Unit) {
    try {
        body()
        passed++
        println("ok   $name")
    } catch (error: Throwable) {
        failed++
        println("FAIL $name: $error")
        error.printStackTrace(System.out)
    }
}

private fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

private fun <T> expectEqual(expected: T, actual: T, what: String) {
    expect(expected == actual) { "$what: expected $expected, got $actual" }
}

private inline fun <reified E : Throwable> expectThrows(body: () -> Unit): E {
    try {
        body()
    } catch (error: Throwable) {
        if (error is E) return error
        throw AssertionError("expected ${E::class.simpleName}, got $error")
    }
    throw AssertionError("expected ${E::class.simpleName}, nothing was thrown")
}

private fun waitUntil(timeoutMs: Long = 10_000, condition: () -> Boolean): Boolean {
    val deadline = System.currentTimeMillis() + timeoutMs
    while (System.currentTimeMillis() < deadline) {
        if (condition()) return true
        Thread.sleep(20)
    }
    return condition()
}

private fun event(type: String, json: String = "{}") = jsonEvent(type, json)

private fun RecordedEvent.json(): String = (data as EventData.Json).json

private fun unique(prefix: String) = "$prefix-${newEventId().takeLast(12)}"

private class Recorder : SyncListener {
    val conflicts = CopyOnWriteArrayList<Conflict>()
    val reports = CopyOnWriteArrayList<SyncReport>()
    val errors = CopyOnWriteArrayList<EventLiteException>()
    override fun onConflict(conflict: Conflict) { conflicts.add(conflict) }
    override fun onSync(report: SyncReport) { reports.add(report) }
    override fun onError(error: EventLiteException) { errors.add(error) }
}

fun main(args: Array<String>) {
    val dir = File(args[0]).apply { deleteRecursively(); mkdirs() }
    val serverUrl = args[1]
    val token = args[2]

    check("open a file store with options; appends with every expectation; a version conflict") {
        val options = StoreOptions(synchronous = Synchronous.FULL, busyTimeoutMs = 250u, maxEventSize = 4096u)
        EventStore.open(File(dir, "orders.db").path, options).use { store ->
            expectEqual(options, store.options(), "options")
            val first = store.appendToStream("order-1", listOf(event("Placed", """{"total":42}""")), ExpectedVersion.NoStream)
            expectEqual(1uL, first.streamVersion, "version")
            expectEqual(listOf(1uL), first.positions, "positions")
            store.appendToStream("order-1", listOf(event("Paid")), ExpectedVersion.StreamExists)
            store.appendToStream("order-1", listOf(event("Packed")), ExpectedVersion.Exact(2uL))
            store.appendToStream("order-1", listOf(event("Noted"), event("Noted")), ExpectedVersion.Any)
            val conflict = expectThrows<EventLiteException.WrongExpectedVersion> {
                store.appendToStream("order-1", listOf(event("Shipped")), ExpectedVersion.Exact(2uL))
            }
            expectEqual("WRONG_EXPECTED_VERSION", conflict.code, "code")
            expectEqual("WRONG_EXPECTED_VERSION", conflict.errorCode(), "errorCode()")
            expectEqual("order-1", conflict.stream, "stream")
            expectEqual(ExpectedVersion.Exact(2uL) as ExpectedVersion, conflict.expected, "expected")
            expectEqual(5uL, conflict.actual, "actual")
            val tooLarge = expectThrows<EventLiteException.EventTooLarge> {
                store.appendToStream("order-1", listOf(event("Big", "\"" + "x".repeat(5000) + "\"")), ExpectedVersion.Any)
            }
            expectEqual(4096uL, tooLarge.limit, "limit")
            expectEqual(5uL, store.headPosition(), "head")

            val retried = event("Placed", """{"total":1}""")
            val original = store.appendToStream("order-9", listOf(retried), ExpectedVersion.NoStream)
            val again = store.appendToStream("order-9", listOf(retried), ExpectedVersion.NoStream)
            expect(again.alreadyAppended && again.positions == original.positions) { "idempotent retry: $again" }
        }
    }

    check("reads both ways, filters, binary data as ByteArray") {
        EventStore.openInMemory().use { store ->
            store.appendToStream("order-1", (0 until 5).map { event("Placed", """{"n":$it}""") }, ExpectedVersion.NoStream)
            store.appendToStream("user-1", listOf(event("Registered")), ExpectedVersion.NoStream)
            val png = byteArrayOf(0x89.toByte(), 0x50, 0x4E, 0x47, 0, 0xFF.toByte())
            store.appendToStream("order-2", listOf(binaryEvent("Photo", "image/png", png)), ExpectedVersion.NoStream)
            val forwards = store.readStream("order-1", ReadStreamOptions(fromVersion = 2uL, maxCount = 2u))
            expectEqual(listOf(2uL, 3uL), forwards.events.map { it.version }, "forwards")
            expectEqual("""{"n":1}""", forwards.events[0].json(), "data")
            val backwards = store.readStream("order-1", ReadStreamOptions(direction = Direction.BACKWARDS, maxCount = 3u))
            expectEqual(listOf(5uL, 4uL, 3uL), backwards.events.map { it.version }, "backwards")
            val users = store.readAll(ReadAllOptions(filter = EventFilter(categories = listOf("user"))))
            expectEqual(listOf("user-1"), users.events.map { it.stream }, "category filter")
            val photo = store.readAll(ReadAllOptions(filter = EventFilter(eventTypes = listOf("Photo")))).events.single()
            val data = photo.data as EventData.Binary
            expect(data.bytes.contentEquals(png) && data.contentType == "image/png") { "binary round trip" }
            val prefixed = store.readAll(ReadAllOptions(direction = Direction.BACKWARDS, filter = EventFilter(streamPrefix = "order-")))
            expectEqual(listOf(7uL, 5uL, 4uL, 3uL, 2uL, 1uL), prefixed.events.map { it.position }, "prefix, backwards")
            expectEqual(7uL, store.readAll(ReadAllOptions()).headPosition, "head")
        }
    }

    check("a subscription calls back on a library thread and resumes from its checkpoint after reopening") {
        val path = File(dir, "subscriptions.db").path
        val caller = Thread.currentThread().id
        val seen = ConcurrentLinkedQueue<Pair<ULong, Long>>()
        val store = EventStore.open(path)
        store.appendToStream("order-1", listOf(event("Placed")), ExpectedVersion.NoStream)
        val subscription = store.subscribeToAll(SubscriptionOptions(name = "projector"), object : EventHandler {
            override fun onEvent(event: RecordedEvent) { seen.add(event.position to Thread.currentThread().id) }
        })
        expect(waitUntil { seen.size == 1 }) { "history delivered" }
        store.appendToStream("order-1", listOf(event("Paid")), ExpectedVersion.Exact(1uL))
        expect(waitUntil { seen.size == 2 }) { "live event delivered" }
        expectEqual(listOf(1uL, 2uL), seen.map { it.first }, "positions")
        expect(seen.all { it.second != caller }) { "delivered on the caller's thread" }
        subscription.stop()
        expect(!subscription.isRunning()) { "still running after stop" }
        expectEqual(2uL, store.loadCheckpoint("projector"), "checkpoint")
        store.appendToStream("order-1", listOf(event("Shipped")), ExpectedVersion.Exact(2uL))
        store.closeStore()
        expectThrows<EventLiteException.StoreClosed> { store.headPosition() }
        store.close()

        EventStore.open(path).use { reopened ->
            val resumed = ConcurrentLinkedQueue<ULong>()
            val again = reopened.subscribeToAll(SubscriptionOptions(name = "projector"), object : EventHandler {
                override fun onEvent(event: RecordedEvent) { resumed.add(event.position) }
            })
            expect(waitUntil { resumed.toList() == listOf(3uL) }) { "resumed after the checkpoint: $resumed" }
            again.stop()
            val failing = reopened.subscribeToStream("order-1", SubscriptionOptions(), object : EventHandler {
                override fun onEvent(event: RecordedEvent) {
                    if (event.version == 2uL) throw IllegalStateException("projection failed")
                }
            })
            expect(waitUntil { !failing.isRunning() }) { "a throwing handler stops its subscription" }
            val error = expectThrows<EventLiteException.HandlerFailed> { failing.stop() }
            expect(error.reason.contains("projection failed")) { error.reason }
        }
    }

    check("snapshots and aggregate") {
        EventStore.openInMemory().use { store ->
            store.appendToStream("cart-1", listOf(1, 2, 3).map { event("Added", """{"qty":$it}""") }, ExpectedVersion.NoStream)
            val sum = object : Reducer {
                override fun evolve(state: String, event: RecordedEvent): String {
                    val total = state.toLong() + Regex("\\d+").find(event.json())!!.value.toLong()
                    return total.toString()
                }
            }
            val folded = store.aggregateStream("cart-1", "0", sum)
            expectEqual("6", folded.state, "state")
            store.saveSnapshot("cart-1", 3uL, "6", "cart-v1")
            store.appendToStream("cart-1", listOf(event("Added", """{"qty":4}""")), ExpectedVersion.Exact(3uL))
            val fromSnapshot = store.aggregateStream("cart-1", "0", sum, "cart-v1")
            expectEqual("10", fromSnapshot.state, "state from snapshot")
            expectEqual(3uL, fromSnapshot.snapshotVersion, "snapshot version")
            expectEqual(1uL, fromSnapshot.eventsFolded, "events folded")
            expectEqual("cart-v1", store.loadSnapshot("cart-1")?.schemaTag, "loaded snapshot")
        }
    }

    check("bad input: a clear exception with its code, data unchanged") {
        EventStore.openInMemory().use { store ->
            store.appendToStream("order-1", listOf(event("Placed")), ExpectedVersion.NoStream)
            val before = store.readAll(ReadAllOptions())
            val calls: List<Pair<String, () -> Unit>> = listOf(
                "stream" to { store.appendToStream("", listOf(event("T")), ExpectedVersion.Any); Unit },
                "stream" to { store.appendToStream("\$system", listOf(event("T")), ExpectedVersion.Any); Unit },
                "events[0].type" to { store.appendToStream("order-1", listOf(event("")), ExpectedVersion.Any); Unit },
                "events[1].data" to { store.appendToStream("order-1", listOf(event("T"), event("T", "{oops")), ExpectedVersion.Any); Unit },
                "events[0].event_id" to {
                    store.appendToStream("order-1", listOf(event("T").copy(eventId = "nope")), ExpectedVersion.Any); Unit
                },
                "state" to { store.saveSnapshot("order-1", 1uL, "{oops", "t") },
            )
            for ((argument, call) in calls) {
                val error = expectThrows<EventLiteException.InvalidArgument>(call)
                expectEqual("INVALID_ARGUMENT", error.code, "code")
                expectEqual(argument, error.argument, "argument")
            }
            expectEqual(before, store.readAll(ReadAllOptions()), "log after bad input")
        }
    }

    check("a projection keeps a read model; query and watch read it; bad SQL and failing appends throw typed errors") {
        EventStore.openInMemory().use { store ->
            store.appendToStream("todo-1", listOf(event("Added", """{"title":"milk"}""")), ExpectedVersion.NoStream)
            val todos = Projection(
                name = "todos",
                version = 1u,
                setup = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)",
                handlers = listOf(
                    ProjectionHandler(eventType = "Added", statements = listOf("INSERT INTO todos (id, title) VALUES (:stream, :data ->> '$.title')")),
                    ProjectionHandler(eventType = "Done", statements = listOf("UPDATE todos SET done = 1 WHERE id = :stream")),
                ),
            )
            val status = store.registerProjection(todos)
            expectEqual(1uL, status.appliedThrough, "built from the log")
            val seen = CopyOnWriteArrayList<QueryRows>()
            val watch = store.watch("SELECT done FROM todos WHERE id = ?", listOf(SqlValue.Text("todo-1")), object : QueryHandler {
                override fun onRows(rows: QueryRows) { seen.add(rows) }
            })
            expect(waitUntil { seen.size == 1 }) { "the watch's first rows" }
            store.appendToStream("todo-1", listOf(event("Done")), ExpectedVersion.Exact(1uL))
            expect(waitUntil { seen.lastOrNull()?.rows == listOf(listOf(SqlValue.Integer(1L))) }) { "rows after Done: $seen" }
            watch.stop()
            expectEqual(listOf(listOf<SqlValue>(SqlValue.Text("milk"))), store.query("SELECT title FROM todos", listOf()).rows, "query")
            val invalid = expectThrows<EventLiteException.InvalidArgument> { store.registerProjection(todos.copy(version = 2u, setup = "CREATE TABLE todos (id")) }
            expectEqual("projection.setup", invalid.argument, "argument")
            val failed = expectThrows<EventLiteException.ProjectionFailed> {
                store.appendToStream("todo-2", listOf(event("Added", """{"no":"title"}""")), ExpectedVersion.NoStream)
            }
            expectEqual("PROJECTION_FAILED", failed.code, "code")
            expectEqual(0uL, store.streamVersion("todo-2"), "nothing written")
            expectThrows<EventLiteException.InvalidArgument> { store.query("DELETE FROM todos", listOf()) }
        }
    }

    check("the one-FFI-call append gives appendToStream's results, exceptions and log") {
        val options = StoreOptions(maxEventSize = 256u)
        val fast = EventStore.open(File(dir, "fast.db").path, options)
        val generated = EventStore.open(File(dir, "generated.db").path, options)
        val placed = NewEvent.json("Placed", """{"total":42}""", """{"correlationId":"c-1"}""")
        val picture = NewEvent.binary("Scanned", "image/png", byteArrayOf(0, 1, -2, -1))
        val storeMadeId = NewEvent(eventType = "Noted", data = EventData.Json("{}"))
        val batch = (0 until 100).map { NewEvent.json("Line", """{"n":$it}""") }
        val steps: List<Triple<String, List<NewEvent>, ExpectedVersion>> = listOf(
            Triple("order-1", listOf(placed), ExpectedVersion.NoStream),
            Triple("order-1", listOf(placed), ExpectedVersion.NoStream),
            Triple("order-1", listOf(NewEvent.json("Paid", "{}"), picture, storeMadeId), ExpectedVersion.StreamExists),
            Triple("order-1", listOf(NewEvent.json("Shipped", "{}")), ExpectedVersion.Exact(4uL)),
            Triple("order-1", listOf(NewEvent.json("Late", "{}")), ExpectedVersion.Exact(1uL)),
            Triple("cart-1", batch, ExpectedVersion.NoStream),
            Triple("cart-1", batch, ExpectedVersion.Exact(0uL)),
            Triple("cart-2", listOf(), ExpectedVersion.Any),
            Triple("", listOf(NewEvent.json("T", "{}")), ExpectedVersion.Any),
            Triple("order-1", listOf(NewEvent.json("", "{}")), ExpectedVersion.Any),
            Triple("order-1", listOf(NewEvent.json("T", "{not json")), ExpectedVersion.Any),
            Triple("order-1", listOf(NewEvent.json("T", "{}", "[1]")), ExpectedVersion.Any),
            Triple("order-1", listOf(NewEvent(eventType = "T", data = EventData.Json("{}"), eventId = "nope")), ExpectedVersion.Any),
            Triple("order-1", listOf(placed, placed), ExpectedVersion.Any),
            Triple("order-1", listOf(NewEvent.json("T", "\"" + "x".repeat(300) + "\"")), ExpectedVersion.Any),
            Triple("order-été", listOf(NewEvent.json("Café", """{"☃":"😀"}""")), ExpectedVersion.Any),
            Triple("order-\uD800", listOf(placed), ExpectedVersion.Any),
        )
        fun outcome(call: () -> AppendResult): Any = try {
            call()
        } catch (error: EventLiteException) {
            listOf(error::class, error.errorCode(), error.message)
        } catch (error: java.nio.charset.CharacterCodingException) {
            listOf(error::class)
        }
        var ok = 0
        for ((stream, events, expected) in steps) {
            val reference = outcome { generated.appendToStream(stream, events, expected) }
            expectEqual(reference, outcome { fast.append(stream, events, expected) }, "append($stream, $expected)")
            if (reference is AppendResult) ok++
        }
        expectEqual(8, ok, "successful steps")
        fun log(store: EventStore) = store.readAll(ReadAllOptions(maxCount = 10_000u)).events
            .map { e ->
                val data = when (val d = e.data) {
                    is EventData.Json -> d.json
                    is EventData.Binary -> d.contentType + d.bytes.contentToString()
                }
                listOf(e.position, e.stream, e.version, e.eventType, e.metadata, data)
            }
        expectEqual(log(generated), log(fast), "log")
        val ids = (0 until 2000).map { NewEvent.json("T", "{}").eventId!! }
        expectEqual(ids.sorted(), ids, "ids increase")
        expectEqual(7, java.util.UUID.fromString(ids[0]).version(), "UUID version")
        fast.closeStore()
        generated.closeStore()
    }

    check("one handle used from several threads at once") {
        EventStore.open(File(dir, "threads.db").path).use { store ->
            val failures = ConcurrentLinkedQueue<Throwable>()
            val conflicts = java.util.concurrent.atomic.AtomicInteger()
            val workers = (0 until 4).map { index ->
                thread(name = "writer-$index") {
                    try {
                        repeat(50) { n ->
                            while (true) {
                                val version = store.streamVersion("counter-1")
                                try {
                                    store.appendToStream("counter-1", listOf(event("Incremented")), ExpectedVersion.Exact(version))
                                    break
                                } catch (error: EventLiteException.WrongExpectedVersion) {
                                    conflicts.incrementAndGet()
                                }
                            }
                            store.appendToStream("writer-$index", listOf(event("Wrote", """{"n":$n}""")), ExpectedVersion.Any)
                            store.readStream("counter-1", ReadStreamOptions(direction = Direction.BACKWARDS, maxCount = 1u))
                        }
                    } catch (error: Throwable) {
                        failures.add(error)
                    }
                }
            }
            workers.forEach { it.join() }
            expect(failures.isEmpty()) { "failures: $failures" }
            val counter = store.readStream("counter-1", ReadStreamOptions(maxCount = 10_000u))
            expectEqual((1uL..200uL).toList(), counter.events.map { it.version }, "dense versions")
            (0 until 4).forEach { expectEqual(50uL, store.streamVersion("writer-$it"), "writer-$it") }
            println("     (${conflicts.get()} version conflicts retried)")
        }
    }

    check("sync two stores through the server with a conflict; stop and resume live sync losing nothing") {
        val options = SyncOptions(url = serverUrl, token = token)
        val phone = EventStore.open(File(dir, "phone.db").path)
        val laptop = EventStore.open(File(dir, "laptop.db").path)
        val todo = unique("todo")
        phone.appendToStream(todo, listOf(event("Added", """{"title":"milk"}""")), ExpectedVersion.NoStream)
        laptop.appendToStream(todo, listOf(event("Added", """{"title":"eggs"}""")), ExpectedVersion.NoStream)
        expectEqual(1uL, phone.syncOnce(options).pushed, "pushed")
        val report = laptop.syncOnce(options)
        val conflict = report.conflicts.single()
        expectEqual("WRONG_EXPECTED_VERSION", conflict.code, "conflict code")
        expectEqual(listOf(conflict.eventId), laptop.syncConflicts().map { it.eventId }, "conflicts list")
        expect(laptop.dismissConflict(conflict.eventId)) { "dismissed" }
        expectEqual(listOf("""{"title":"milk"}"""), laptop.readStream(todo, ReadStreamOptions()).events.map { it.json() }, "converged")

        val listener = Recorder()
        laptop.startSync(options, listener)
        phone.appendToStream(todo, listOf(event("Added", """{"title":"bread"}""")), ExpectedVersion.Exact(1uL))
        phone.syncOnce(options)
        expect(waitUntil { laptop.streamVersion(todo) == 2uL }) { "live sync brought the phone's event" }
        laptop.stopSync()
        expect(!laptop.isSyncing()) { "stopped" }
        laptop.appendToStream(todo, listOf(event("Added", """{"title":"tea"}""")), ExpectedVersion.Exact(2uL))
        phone.appendToStream(todo, listOf(event("Added", """{"title":"jam"}""")), ExpectedVersion.Exact(2uL))
        phone.syncOnce(options)
        expectEqual(1uL, laptop.syncStatus().pending, "pending while in the background")
        laptop.startSync(options, listener)
        // The rejection (its push) and the phone's "jam" (a pull) may arrive in different rounds: wait for both.
        expect(waitUntil { laptop.syncStatus().pending == 0uL && listener.conflicts.size == 1 }) { "resumed: ${laptop.syncStatus()}" }
        expect(waitUntil { laptop.streamVersion(todo) == 3uL }) { "resumed: the phone's event pulled" }
        expectEqual(todo, listener.conflicts[0].stream, "conflict callback")
        laptop.stopSync()
        expect(listener.reports.isNotEmpty()) { "onSync called" }
        val unauthorized = expectThrows<EventLiteException.Sync> { laptop.syncOnce(SyncOptions(url = serverUrl, token = "wrong")) }
        expectEqual("UNAUTHORIZED", unauthorized.code, "code")
        expectEqual(401.toUShort(), unauthorized.status, "status")
        phone.syncOnce(options)
        val log = { s: EventStore -> s.readAll(ReadAllOptions(maxCount = 10_000u)).events.map { Triple(it.stream, it.version, it.eventId) } }
        expectEqual(log(phone), log(laptop), "same log on both devices")
        phone.close()
        laptop.close()
    }

    println("$passed passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}
