// Shipped beside the generated bindings (native/generate-bindings.sh copies it to kotlin/io/github/eventlite/).
//
// `EventStore.append` is `appendToStream` in one FFI call: the whole append is written in one pass into one direct
// ByteBuffer (the compact encoding of native/src/encoded.rs, passed to Rust without a copy) with the store named by
// a number (its `appendHandle()`, so no object is lowered), and the answer comes back packed in a u64, instead of the
// generated code lowering every string into a RustBuffer of its own.

package io.github.eventlite

import java.nio.Buffer
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.CharBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CharsetEncoder
import java.nio.charset.CodingErrorAction

/**
 * Appends [events] to [stream] if its version satisfies [expected]: the same results and exceptions as
 * [EventStore.appendToStream] (an [EventLiteException] with its code; a [CharacterCodingException] for a string with
 * a lone surrogate), in one FFI call. One difference: on a store whose handle was released (`close()` / `use { }`
 * ended), it throws `EventLiteException.StoreClosed` where the generated method throws `IllegalStateException`.
 */
@Throws(EventLiteException::class, CharacterCodingException::class)
fun EventStore.append(stream: String, events: List<NewEvent>, expected: ExpectedVersion): AppendResult {
    val buffer = AppendEncoder.current.get().encode(stream, events, expected)
    val packed = appendEncoded(cachedAppendHandle(), buffer)
    // The generated call passes the direct buffer as a bare pointer: keep a one-off (large) buffer reachable until
    // Rust has read it, or the JIT may let the GC free it mid-call.
    java.lang.ref.Reference.reachabilityFence(buffer)
    if (packed == 0UL) return decodeFullResult(takeAppendResult())
    // Bit 62 already_appended, bits 38-61 the stream version, bits 0-37 the first of consecutive positions.
    val first = packed and ((1UL shl 38) - 1UL)
    return AppendResult(
        streamVersion = (packed shr 38) and 0xFFFFFFUL,
        positions = List(events.size) { first + it.toULong() },
        alreadyAppended = (packed shr 62) and 1UL == 1UL,
    )
}

/** Each store's [EventStore.appendHandle], asked once (weak keys: the map keeps no store alive). */
private val appendHandles = java.util.WeakHashMap<EventStore, ULong>()

private fun EventStore.cachedAppendHandle(): ULong =
    synchronized(appendHandles) { appendHandles.getOrPut(this) { appendHandle() } }

private fun decodeFullResult(answer: ByteArray): AppendResult {
    val result = ByteBuffer.wrap(answer).order(ByteOrder.LITTLE_ENDIAN)
    val alreadyAppended = result.get() == 1.toByte()
    val streamVersion = result.getLong().toULong()
    val positions = List(result.getInt()) { result.getLong().toULong() }
    return AppendResult(streamVersion, positions, alreadyAppended)
}

/**
 * An event whose data is JSON text, with a fresh UUID v7 id: [jsonEvent] without its FFI call (appending the same
 * value again is an idempotent retry).
 */
fun NewEvent.Companion.json(eventType: String, json: String, metadata: String? = null): NewEvent =
    NewEvent(eventType, EventData.Json(json), metadata, EventIds.next())

/** An event whose data is raw bytes of [contentType], with a fresh UUID v7 id: [binaryEvent] without its FFI call. */
fun NewEvent.Companion.binary(
    eventType: String,
    contentType: String,
    bytes: ByteArray,
    metadata: String? = null,
): NewEvent = NewEvent(eventType, EventData.Binary(contentType, bytes), metadata, EventIds.next())

/** UUID v7 strings, increasing within the process like core's `Uuid::now_v7` (what `newEventId()` returns). */
internal object EventIds {
    private val random = java.security.SecureRandom()
    /** The last 48-bit millisecond timestamp and 12-bit counter given out, as one number (RFC 9562 method 1). */
    private val last = java.util.concurrent.atomic.AtomicLong()
    /** Per thread, 4 KiB of `SecureRandom` bytes drawn at once (one draw per 512 ids). */
    private val pool: ThreadLocal<ByteBuffer> =
        ThreadLocal.withInitial { ByteBuffer.allocate(4096).also { it.buffer.position(4096) } }

    fun next(): String {
        val stamp = last.updateAndGet { previous -> maxOf(System.currentTimeMillis() shl 12, previous + 1) }
        val bytes = pool.get()
        if (!bytes.hasRemaining()) {
            random.nextBytes(bytes.array())
            bytes.buffer.clear()
        }
        val high = ((stamp ushr 12) shl 16) or 0x7000L or (stamp and 0xFFF)
        return java.util.UUID(high, (bytes.getLong() ushr 2) or Long.MIN_VALUE).toString()
    }
}

/** As a [Buffer]: its `position(Int)`, `flip()` and `clear()`, not ByteBuffer's covariant overrides (Java 9+), which
 *  older Android versions lack. */
private val ByteBuffer.buffer: Buffer get() = this

/** One per thread: a reusable direct buffer and a strict UTF-8 encoder (never shared between threads). */
internal class AppendEncoder {
    private var buffer: ByteBuffer = ByteBuffer.allocateDirect(INITIAL).order(ByteOrder.LITTLE_ENDIAN)
    private val utf8: CharsetEncoder = Charsets.UTF_8.newEncoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)

    fun encode(stream: String, events: List<NewEvent>, expected: ExpectedVersion): ByteBuffer {
        val out = reserve(bound(stream, events))
        val (tag, version) = when (expected) {
            is ExpectedVersion.Any -> 0 to 0UL
            is ExpectedVersion.NoStream -> 1 to 0UL
            is ExpectedVersion.StreamExists -> 2 to 0UL
            is ExpectedVersion.Exact -> 3 to expected.version
        }
        out.put(FORMAT).put(tag.toByte()).putLong(version.toLong())
        putString(out, stream)
        out.putInt(events.size)
        for (event in events) {
            val data = event.data
            val flags = (if (data is EventData.Binary) BINARY else 0) or
                (if (event.metadata != null) METADATA else 0) or (if (event.eventId != null) EVENT_ID else 0)
            out.put(flags.toByte())
            putString(out, event.eventType)
            when (data) {
                is EventData.Json -> putString(out, data.json)
                is EventData.Binary -> {
                    putString(out, data.contentType)
                    out.putInt(data.bytes.size).put(data.bytes)
                }
            }
            event.metadata?.let { putString(out, it) }
            event.eventId?.let { putString(out, it) }
        }
        out.buffer.flip()
        return out
    }

    /** At most this many bytes: UTF-8 takes at most 3 bytes per UTF-16 unit. */
    private fun bound(stream: String, events: List<NewEvent>): Long {
        var size = 18L + 3L * stream.length
        for (event in events) {
            size += 9L + 3L * event.eventType.length + 4 + 3L * (event.metadata?.length ?: 0) +
                4 + 3L * (event.eventId?.length ?: 0)
            size += when (val data = event.data) {
                is EventData.Json -> 3L * data.json.length
                is EventData.Binary -> 4 + 3L * data.contentType.length + data.bytes.size
            }
        }
        return size
    }

    private fun reserve(size: Long): ByteBuffer {
        // ForeignBytes carries an i32 length.
        require(size <= Int.MAX_VALUE) { "an append must encode to less than 2 GiB" }
        if (size > buffer.capacity()) {
            val grown = ByteBuffer.allocateDirect(size.toInt()).order(ByteOrder.LITTLE_ENDIAN)
            // Keep what usual appends need; a one-off huge batch does not stay allocated.
            if (size <= KEEP) buffer = grown else return grown
        }
        buffer.buffer.clear()
        return buffer
    }

    /** A u32 byte length, then the UTF-8 bytes, written in place (the length is patched after encoding). */
    private fun putString(out: ByteBuffer, text: String) {
        val at = out.position()
        out.buffer.position(at + 4)
        utf8.reset()
        val result = utf8.encode(CharBuffer.wrap(text), out, true)
        if (!result.isUnderflow) result.throwException()
        utf8.flush(out)
        out.putInt(at, out.position() - at - 4)
    }

    companion object {
        private const val FORMAT: Byte = 1
        private const val BINARY = 1
        private const val METADATA = 2
        private const val EVENT_ID = 4
        private const val INITIAL = 4 * 1024
        private const val KEEP = 4 * 1024 * 1024L

        val current: ThreadLocal<AppendEncoder> = ThreadLocal.withInitial { AppendEncoder() }
    }
}
