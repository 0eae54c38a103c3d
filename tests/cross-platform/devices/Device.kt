// The Kotlin device of the cross-platform test: the generated Kotlin bindings on the JVM (JNA), one command per
// process, as an Android app would use the library across launches.
//
//     java ... DeviceKt append <store> <server url> <token> '<operations>'
//     java ... DeviceKt sync   <store> <server url> <token>
//     java ... DeviceKt dump   <store> <server url> <token>
//
// Operations come one per line, `stream TAB type TAB expectation TAB data as JSON` (so that no JSON parser is needed
// here); each command prints one JSON line.
import io.github.eventlite.*

private fun quote(text: String): String {
    val out = StringBuilder("\"")
    for (char in text) {
        when {
            char == '"' -> out.append("\\\"")
            char == '\\' -> out.append("\\\\")
            char < ' ' -> out.append(String.format("\\u%04x", char.code))
            else -> out.append(char)
        }
    }
    return out.append('"').toString()
}

/** `any`, `no_stream`, `stream_exists` or a version. */
private fun expectation(value: String): ExpectedVersion = when (value) {
    "any" -> ExpectedVersion.Any
    "no_stream" -> ExpectedVersion.NoStream
    "stream_exists" -> ExpectedVersion.StreamExists
    else -> ExpectedVersion.Exact(value.toULong())
}

private fun conflictsJson(conflicts: List<Conflict>): String =
    conflicts.joinToString(",", "[", "]") {
        """{"eventId":${quote(it.eventId)},"stream":${quote(it.stream)},"code":${quote(it.code)}}"""
    }

/** One operation per line: `stream TAB type TAB expectation TAB data as JSON`. */
private fun append(store: EventStore, operations: String): String {
    val results = operations.lines().filter { it.isNotEmpty() }.map { line ->
        val (stream, type, expected, data) = line.split('\t', limit = 4)
        val event = jsonEvent(type, data, null)
        try {
            val result = store.appendToStream(stream, listOf(event), expectation(expected))
            """{"ok":true,"version":${result.streamVersion}}"""
        } catch (error: EventLiteException) {
            """{"ok":false,"code":${quote(error.errorCode())}}"""
        }
    }
    return results.joinToString(",", """{"results":[""", "]}")
}

private fun sync(store: EventStore, url: String, token: String): String {
    val report = store.syncOnce(SyncOptions(url = url, token = token))
    return """{"pushed":${report.pushed},"pulled":${report.pulled},"conflicts":${conflictsJson(report.conflicts)}}"""
}

private fun dump(store: EventStore): String {
    val log = mutableListOf<String>()
    var after: ULong? = null
    while (true) {
        val page = store.readAll(ReadAllOptions(fromPosition = after, maxCount = 1000u))
        if (page.events.isEmpty()) break
        for (event in page.events) {
            log.add("""{"eventId":${quote(event.eventId)},"stream":${quote(event.stream)},"version":${event.version},"type":${quote(event.eventType)}}""")
        }
        after = page.events.last().position
    }
    val status = store.syncStatus()
    return """{"log":${log.joinToString(",", "[", "]")},"conflicts":${conflictsJson(store.syncConflicts())},"pending":${status.pending}}"""
}

fun main(args: Array<String>) {
    val (command, path, url, token) = args
    EventStore.open(path, null).use { store ->
        val answer = when (command) {
            "append" -> append(store, args[4])
            "sync" -> sync(store, url, token)
            "dump" -> dump(store)
            else -> error("unknown command $command")
        }
        println(answer)
    }
}
