-- SPDX-License-Identifier: GPL-2.0
--
-- Wireshark/tshark plugin for vsock-seqpacket: SEQ_BEGIN/SEQ_END record markers on
-- SOCK_SEQPACKET virtio-vsock connections.
--
-- It extends Wireshark's own vsock dissector (packet-vsock.c, link type VSOCK, the
-- captures of a vsockmon device) as a postdissector: it reads that dissector's fields
-- (vsock.trans_len, vsock.virtio.*) and adds a "vsock SEQPACKET" subtree with
--   * the operation's name, including SEQ_BEGIN (8) and SEQ_END (9);
--   * the marker payload {__le32 msg_cnt; __le32 msg_len} as vsock_seq.msg_cnt/.msg_len;
--   * the flags: EOM (bit 0), EOR (bit 1; on SEQ_END it carries MSG_EOR) and
--     VIRTIO_VSOCK_REQUEST_SEQ_MARKERS (bit 31; on REQUEST/RESPONSE it negotiates
--     markers, on RST it says that a record broke);
--   * per connection and direction: the framing negotiated, the record number, the
--     record's data bytes, the frame of its SEQ_BEGIN, and an expert warning on every
--     protocol violation the module counts (the kinds of src/proto/reasm.rs, under the
--     same names), and on a marker on a connection that fell back to EOM framing.
--
-- Load it for one run:   tshark -X lua_script:tools/wireshark/vsock_seqpacket.lua -r X.pcap
-- or install it:         make wireshark-plugin   (~/.local/lib/wireshark/plugins/)
-- Filter fields:         vsock_seq.op, vsock_seq.msg_cnt, vsock_seq.msg_len, vsock_seq.record,
--                        vsock_seq.record_bytes, vsock_seq.framing, vsock_seq.violation, ...
--                        (README.md, "Seeing the wire", lists them all).

local OP_NAMES = {
    [0] = "INVALID", [1] = "REQUEST", [2] = "RESPONSE", [3] = "RST", [4] = "SHUTDOWN",
    [5] = "RW", [6] = "CREDIT_UPDATE", [7] = "CREDIT_REQUEST", [8] = "SEQ_BEGIN",
    [9] = "SEQ_END",
}
local OP_REQUEST, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW = 1, 2, 3, 4, 5
local OP_SEQ_BEGIN, OP_SEQ_END = 8, 9
local TYPE_NAMES = { [1] = "Stream", [2] = "Seqpacket" }
local TYPE_SEQPACKET = 2
local FLAG_SEQ_EOM, FLAG_SEQ_EOR, FLAG_SEQ_MARKERS = 0x1, 0x2, 0x80000000
local FLAG_SHUTDOWN_SEND = 0x2
local SEQ_HDR_LEN = 8
local MON_HDR_LEN = 32
local WRAP = 4294967296

local p = Proto("vsock_seq", "vsock SEQPACKET record markers")

local pf = {
    op = ProtoField.uint16("vsock_seq.op", "Operation", base.DEC, OP_NAMES),
    type = ProtoField.uint16("vsock_seq.type", "Type", base.DEC, TYPE_NAMES),
    flags = ProtoField.uint32("vsock_seq.flags", "Flags", base.HEX),
    eom = ProtoField.bool("vsock_seq.flags.eom", "EOM (end of record, EOM framing)", 32, nil,
        FLAG_SEQ_EOM),
    eor = ProtoField.bool("vsock_seq.flags.eor", "EOR (sender's MSG_EOR)", 32, nil, FLAG_SEQ_EOR),
    markers = ProtoField.bool("vsock_seq.flags.seq_markers",
        "SEQ_MARKERS (REQUEST/RESPONSE: markers offered/accepted; RST: record broken)", 32, nil,
        FLAG_SEQ_MARKERS),
    msg_cnt = ProtoField.uint32("vsock_seq.msg_cnt", "msg_cnt", base.DEC),
    msg_len = ProtoField.uint32("vsock_seq.msg_len", "msg_len", base.DEC),
    framing = ProtoField.string("vsock_seq.framing", "Connection framing"),
    record = ProtoField.uint32("vsock_seq.record", "Record number (this direction)", base.DEC),
    record_bytes = ProtoField.uint32("vsock_seq.record_bytes", "Record data bytes (so far)",
        base.DEC),
    record_begin = ProtoField.framenum("vsock_seq.record_begin", "Record began in frame"),
    complete = ProtoField.bool("vsock_seq.complete", "Record complete"),
    expected_cnt = ProtoField.uint32("vsock_seq.expected_cnt", "Expected msg_cnt", base.DEC),
    violation = ProtoField.string("vsock_seq.violation", "Protocol violation"),
}
p.fields = {
    pf.op, pf.type, pf.flags, pf.eom, pf.eor, pf.markers, pf.msg_cnt, pf.msg_len, pf.framing,
    pf.record, pf.record_bytes, pf.record_begin, pf.complete, pf.expected_cnt, pf.violation,
}

-- The violation kinds the module counts: exactly src/proto/reasm.rs ViolationKind::name and
-- Violation::describe (tools/wire_check's tests compare them, one kind a line).
local W, N = expert.severity.WARN, expert.severity.NOTE
local VIOLATIONS = {
    bad_marker = { "marker payload is not 8 bytes", expert.group.MALFORMED, W },
    data_outside_record = { "data outside a record", expert.group.SEQUENCE, W },
    begin_inside_record = { "SEQ_BEGIN inside an open record", expert.group.SEQUENCE, W },
    end_without_begin = { "SEQ_END without SEQ_BEGIN", expert.group.SEQUENCE, W },
    counter_mismatch = { "marker counter out of sequence", expert.group.SEQUENCE, W },
    overrun = { "more data than the record announced", expert.group.SEQUENCE, W },
    underrun = { "SEQ_END before all record data", expert.group.SEQUENCE, W },
    length_mismatch = { "SEQ_END length differs from SEQ_BEGIN", expert.group.SEQUENCE, W },
    too_large = { "record larger than the receive buffer", expert.group.PROTOCOL, W },
    eom_on_data = { "EOM flag on data of a marker connection", expert.group.PROTOCOL, W },
    shutdown_inside_record = { "peer shut down inside an open record", expert.group.SEQUENCE, W },
}
-- What a capture shows but the module never counts: the transport hands the module no
-- unknown op, resets a connection at its first violation (so the packets still in flight
-- after it never reach the module), and handles the fallback framing and resets itself.
local CAPTURE_ONLY = {
    unknown_op = { "operation this protocol does not define", expert.group.PROTOCOL, W },
    after_violation = { "packet after an earlier protocol violation", expert.group.SEQUENCE, N },
    marker_on_fallback = { "marker on a connection that did not negotiate markers",
        expert.group.PROTOCOL, W },
    record_reset = { "RST cuts an open record (the reader gets ECONNRESET)",
        expert.group.SEQUENCE, N },
}
local ef = {}
local experts = {}
for _, kinds in ipairs({ VIOLATIONS, CAPTURE_ONLY }) do
    for name, v in pairs(kinds) do
        ef[name] = ProtoExpert.new("vsock_seq." .. name, v[1], v[2], v[3])
        experts[#experts + 1] = ef[name]
    end
end
ef.negotiated = ProtoExpert.new("vsock_seq.negotiated", "Connection framing negotiated",
    expert.group.SEQUENCE, expert.severity.CHAT)
experts[#experts + 1] = ef.negotiated
p.experts = experts

-- The built-in dissector's fields this one reads.
local f_trans = Field.new("vsock.trans")
local f_trans_len = Field.new("vsock.trans_len")
local f_src_cid = Field.new("vsock.virtio.src_cid")
local f_dst_cid = Field.new("vsock.virtio.dst_cid")
local f_src_port = Field.new("vsock.virtio.src_prot") -- sic: packet-vsock.c's abbreviation
local f_dst_port = Field.new("vsock.virtio.dst_prot")
local f_len = Field.new("vsock.virtio.len")
local f_type = Field.new("vsock.virtio.type")
local f_op = Field.new("vsock.virtio.op")
local f_flags = Field.new("vsock.virtio.flags")
local f_buf_alloc = Field.new("vsock.virtio.buf_alloc")
local f_fwd_cnt = Field.new("vsock.virtio.fwd_cnt")

local function has(flags, bit) -- flags & bit ~= 0, for a single-bit mask, in any Lua
    return math.floor(flags / bit) % 2 == 1
end

-- Connection state, built on the first, in-order pass; per-frame results are kept so
-- that later passes (Wireshark's GUI, tshark -2) show the same.
local conns, results

local function reset()
    conns, results = {}, {}
end
reset()
p.init = reset -- called for every capture file opened

local function new_dir()
    return { expected = 0, open = nil, poisoned = false, records = 0, eom_bytes = 0 }
end

-- Applies one packet of a connection to the receiver-side state of its direction (the
-- Lua image of src/proto/reasm.rs); fills `r` with what the tree shows.
local function analyse(conn, src, dst, op, flags, plen, payload, frame, r)
    local dir = conn.dirs[src]
    if dir == nil then
        dir = new_dir()
        if conn.framing == "unknown" then dir.expected = nil end -- started mid-connection
        conn.dirs[src] = dir
    end
    local function violate(kind, detail)
        r.violation, r.detail = kind, detail
        if kind ~= "record_reset" then
            dir.poisoned = true
        end
        dir.open = nil
    end

    if op == OP_REQUEST or op == OP_RESPONSE or op == OP_RST or op == OP_SHUTDOWN then
        if op == OP_RST and dir.open then
            r.record, r.record_begin = dir.open.num, dir.open.frame
            violate("record_reset", string.format("record %d of %d bytes got %d",
                dir.open.num, dir.open.len, dir.open.received))
        elseif op == OP_SHUTDOWN and has(flags, FLAG_SHUTDOWN_SEND) and dir.open
            and not dir.poisoned then
            r.record, r.record_begin = dir.open.num, dir.open.frame
            violate("shutdown_inside_record", string.format("record %d of %d bytes got %d",
                dir.open.num, dir.open.len, dir.open.received))
        end
        return
    end
    local marker = op == OP_SEQ_BEGIN or op == OP_SEQ_END
    if conn.framing == "fallback" then
        if marker then
            violate("marker_on_fallback", "this connection uses EOM framing")
        elseif op == OP_RW then
            if dir.fb_open == nil then
                dir.fb_open = { num = dir.records + 1, frame = frame, received = 0 }
            end
            local rec = dir.fb_open
            rec.received = rec.received + plen
            r.record, r.record_begin, r.record_bytes = rec.num, rec.frame, rec.received
            if has(flags, FLAG_SEQ_EOM) then
                dir.records = rec.num
                dir.fb_open = nil
                r.complete = true
            end
        end
        return
    end
    if conn.framing == "pending" or (op >= 1 and op <= 7 and op ~= OP_RW) then
        return -- connection and credit operations carry no record data
    end
    if dir.poisoned then
        r.violation = "after_violation"
        return
    end
    if op == 0 or op > OP_SEQ_END then
        return violate("unknown_op", "op " .. op)
    end
    if marker and plen ~= SEQ_HDR_LEN then
        return violate("bad_marker", string.format("%d bytes", plen))
    end
    if op == OP_SEQ_BEGIN then
        local cnt, len = payload:range(0, 4):le_uint(), payload:range(4, 4):le_uint()
        r.expected_cnt = dir.expected
        if dir.open then
            return violate("begin_inside_record", string.format("record %d (frame %d) is open",
                dir.open.num, dir.open.frame))
        end
        if dir.expected ~= nil and cnt ~= dir.expected then
            return violate("counter_mismatch", string.format("msg_cnt %d, expected %d", cnt,
                dir.expected))
        end
        local limit = conn.buf_alloc[dst]
        if limit ~= nil and len > limit then
            return violate("too_large", string.format("msg_len %d, receive buffer %d", len,
                limit))
        end
        dir.open = { num = dir.records + 1, cnt = cnt, len = len, received = 0, frame = frame }
        dir.expected = (cnt + 1) % WRAP
        r.record, r.record_begin, r.record_bytes = dir.open.num, frame, 0
    elseif op == OP_RW then
        local rec = dir.open
        if rec == nil then
            return violate("data_outside_record", string.format("%d bytes", plen))
        end
        r.record, r.record_begin = rec.num, rec.frame
        if has(flags, FLAG_SEQ_EOM) then
            return violate("eom_on_data", nil)
        end
        if rec.received + plen > rec.len then
            return violate("overrun", string.format("%d bytes, msg_len %d",
                rec.received + plen, rec.len))
        end
        rec.received = rec.received + plen
        r.record_bytes = rec.received
    else -- SEQ_END
        local cnt, len = payload:range(0, 4):le_uint(), payload:range(4, 4):le_uint()
        local rec = dir.open
        if rec == nil then
            return violate("end_without_begin", nil)
        end
        r.record, r.record_begin, r.record_bytes = rec.num, rec.frame, rec.received
        local want = (rec.cnt + 1) % WRAP
        r.expected_cnt = want
        if cnt ~= want then
            return violate("counter_mismatch", string.format("msg_cnt %d, expected %d", cnt,
                want))
        end
        if len ~= rec.len then
            return violate("length_mismatch", string.format("msg_len %d, SEQ_BEGIN said %d",
                len, rec.len))
        end
        if rec.received ~= rec.len then
            return violate("underrun", string.format("%d of %d bytes", rec.received, rec.len))
        end
        dir.open = nil
        dir.records = rec.num
        dir.expected = (cnt + 1) % WRAP
        r.complete = true
    end
end

-- Updates the connection table for one packet and returns the per-frame result.
local function track(pinfo, h, payload)
    local src = h.src_cid .. ":" .. h.src_port
    local dst = h.dst_cid .. ":" .. h.dst_port
    local key = src < dst and (src .. " " .. dst) or (dst .. " " .. src)
    local conn = conns[key]
    if h.op == OP_REQUEST then
        -- A REQUEST opens a new connection, even on a 4-tuple seen before.
        conn = { framing = "pending", offered = has(h.flags, FLAG_SEQ_MARKERS), dirs = {},
            buf_alloc = {} }
        conns[key] = conn
    elseif conn == nil then
        conn = { framing = "unknown", dirs = {}, buf_alloc = {} }
        conns[key] = conn
    end
    local r = {}
    if h.op == OP_RESPONSE and conn.framing == "pending" then
        conn.framing = (conn.offered and has(h.flags, FLAG_SEQ_MARKERS)) and "markers"
            or "fallback"
        r.negotiated = true
    elseif conn.framing == "unknown" and (h.op == OP_SEQ_BEGIN or h.op == OP_SEQ_END) then
        conn.framing = "markers" -- capture began after the handshake
    end
    r.framing = conn.framing
    if h.type == TYPE_SEQPACKET then
        analyse(conn, src, dst, h.op, h.flags, h.plen, payload, pinfo.number, r)
    end
    -- The receiver's buffer is what it advertises on its own packets.
    conn.buf_alloc[src] = h.buf_alloc
    return r
end

function p.dissector(tvb, pinfo, tree)
    local trans, op_fi = f_trans(), f_op()
    if trans == nil or op_fi == nil or trans.value ~= 2 then
        return -- not a vsockmon frame with a virtio header
    end
    local h = {
        src_cid = tostring(f_src_cid().value), dst_cid = tostring(f_dst_cid().value),
        src_port = f_src_port().value, dst_port = f_dst_port().value,
        len = f_len().value, type = f_type().value, op = op_fi.value,
        flags = f_flags().value, buf_alloc = f_buf_alloc().value, fwd_cnt = f_fwd_cnt().value,
    }
    local off = MON_HDR_LEN + f_trans_len().value
    h.plen = tvb:len() - off
    if h.plen < 0 then h.plen = 0 end
    local payload = h.plen > 0 and tvb:range(off, h.plen) or nil
    if h.type ~= TYPE_SEQPACKET and h.op ~= OP_SEQ_BEGIN and h.op ~= OP_SEQ_END then
        return
    end

    local r = results[pinfo.number]
    if r == nil then
        if pinfo.visited then return end -- no state for a frame not seen in order
        r = track(pinfo, h, payload)
        results[pinfo.number] = r
    end

    local opname = OP_NAMES[h.op] or ("op " .. h.op)
    local t = tree:add(p, tvb:range(MON_HDR_LEN), "vsock SEQPACKET: " .. opname)
    t:add(pf.type, h.type):set_generated()
    t:add(pf.op, h.op):set_generated()
    local ft = t:add(pf.flags, h.flags)
    ft:set_generated()
    ft:add(pf.eom, h.flags):set_generated()
    ft:add(pf.eor, h.flags):set_generated()
    ft:add(pf.markers, h.flags):set_generated()

    local info = {}
    local marker = h.op == OP_SEQ_BEGIN or h.op == OP_SEQ_END
    if marker and h.plen == SEQ_HDR_LEN then
        local cnt, len = payload:range(0, 4):le_uint(), payload:range(4, 4):le_uint()
        t:add_le(pf.msg_cnt, payload:range(0, 4))
        t:add_le(pf.msg_len, payload:range(4, 4))
        info[#info + 1] = string.format("{msg_cnt=%d, msg_len=%d}", cnt, len)
    end
    if has(h.flags, FLAG_SEQ_EOR) and h.op ~= OP_SHUTDOWN then info[#info + 1] = "EOR" end
    if has(h.flags, FLAG_SEQ_EOM) and h.op == OP_RW then info[#info + 1] = "EOM" end
    if (h.op == OP_REQUEST or h.op == OP_RESPONSE) and has(h.flags, FLAG_SEQ_MARKERS) then
        info[#info + 1] = "SEQ_MARKERS"
    end
    t:add(pf.framing, r.framing):set_generated()
    if r.negotiated then
        t:add_proto_expert_info(ef.negotiated, "SOCK_SEQPACKET framing: " .. r.framing)
    end
    if r.record then
        t:add(pf.record, r.record):set_generated()
        if r.record_bytes then t:add(pf.record_bytes, r.record_bytes):set_generated() end
        t:add(pf.record_begin, r.record_begin):set_generated()
        if r.complete then
            info[#info + 1] = string.format("record %d complete (%d bytes)", r.record,
                r.record_bytes or 0)
        else
            info[#info + 1] = "record " .. r.record
        end
    end
    if r.expected_cnt then t:add(pf.expected_cnt, r.expected_cnt):set_generated() end
    if r.complete then t:add(pf.complete, true):set_generated() end
    if r.violation then
        t:add(pf.violation, r.violation):set_generated()
        local v = VIOLATIONS[r.violation] or CAPTURE_ONLY[r.violation]
        t:add_proto_expert_info(ef[r.violation],
            v[1] .. (r.detail and (": " .. r.detail) or ""))
        info[#info + 1] = "[" .. r.violation .. "]"
    end

    pinfo.cols.protocol = "vSocket/SEQ"
    local mon = tostring(pinfo.cols.info):match("^%[[^%]]*%]") or ""
    if h.op == OP_RW then table.insert(info, 1, h.plen .. " bytes") end
    pinfo.cols.info = string.format("%s %s:%d -> %s:%d %s %s%s, Buf alloc: %d, Fwd cnt: %d",
        mon, h.src_cid, h.src_port, h.dst_cid, h.dst_port, TYPE_NAMES[h.type] or h.type,
        opname, #info > 0 and (" " .. table.concat(info, ", ")) or "", h.buf_alloc, h.fwd_cnt)
end

register_postdissector(p)
