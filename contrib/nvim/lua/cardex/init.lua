-- cardex.nvim — search compliance knowledge cards from Neovim over cardexd's Unix socket.
-- Uses Neovim's own libuv binding (vim.uv / vim.loop): one reused pipe, no process per query.
local uv = vim.uv or vim.loop
local M = {}

M.config = {
  socket = nil,     -- nil: $CARDEX_SOCKET, else $XDG_RUNTIME_DIR/cardex/cardex.sock, else /tmp/cardex-$UID/cardex.sock
  timeout = 5000,   -- milliseconds to wait for a reply
  limit = 20,       -- hits offered by :Cardex
}

function M.setup(opts)
  M.config = vim.tbl_extend("force", M.config, opts or {})
  M.close()
end

function M.socket_path()
  if M.config.socket and M.config.socket ~= "" then return M.config.socket end
  local env = vim.env.CARDEX_SOCKET
  if env and env ~= "" then return env end
  local xdg = vim.env.XDG_RUNTIME_DIR
  if xdg and xdg:sub(1, 1) == "/" then return xdg .. "/cardex/cardex.sock" end
  return "/tmp/cardex-" .. uv.getuid() .. "/cardex.sock"
end

-- connection state: one pipe, pending callbacks by request id
local conn = { pipe = nil, connected = false, queue = {}, pending = {}, buf = "", next_id = 1 }

local function fail_all(msg)
  local pending = conn.pending
  conn.pending, conn.queue = {}, {}
  for _, cb in pairs(pending) do cb(msg, nil) end
end

function M.close()
  if conn.pipe and not conn.pipe:is_closing() then conn.pipe:close() end
  conn.pipe, conn.connected, conn.buf = nil, false, ""
end

local function on_read(err, data)
  if err or not data then
    M.close()
    vim.schedule(function()
      fail_all("cardex: the daemon at " .. M.socket_path() .. " closed the connection")
    end)
    return
  end
  conn.buf = conn.buf .. data
  while true do
    local nl = conn.buf:find("\n", 1, true)
    if not nl then break end
    local line = conn.buf:sub(1, nl - 1)
    conn.buf = conn.buf:sub(nl + 1)
    vim.schedule(function()
      local ok, reply = pcall(vim.json.decode, line)
      if not ok or type(reply) ~= "table" then return end
      local cb = conn.pending[reply.id]
      conn.pending[reply.id] = nil
      if not cb then return end
      if reply.error then
        cb("cardex: " .. tostring(reply.error.message), nil, reply.error)
      else
        cb(nil, reply.result)
      end
    end)
  end
end

local function ensure_connected()
  if conn.pipe then return end
  local path = M.socket_path()
  conn.pipe = uv.new_pipe(false)
  conn.pipe:connect(path, function(err)
    if err then
      M.close()
      vim.schedule(function()
        fail_all(("cardex: cannot reach the daemon at %s (%s); start it with: cardexd --seeds DIR")
          :format(path, err))
      end)
      return
    end
    conn.connected = true
    conn.pipe:read_start(on_read)
    for _, line in ipairs(conn.queue) do conn.pipe:write(line) end
    conn.queue = {}
  end)
end

--- Sends a request; cb(err, result, error_object) runs on the main loop.
function M.request(method, params, cb)
  local id = conn.next_id
  conn.next_id = id + 1
  conn.pending[id] = cb
  local msg = { jsonrpc = "2.0", id = id, method = method }
  if params then msg.params = params end
  local line = vim.json.encode(msg) .. "\n"
  ensure_connected()
  if conn.connected then conn.pipe:write(line) else table.insert(conn.queue, line) end
  local timeout = uv.new_timer()
  timeout:start(M.config.timeout, 0, function()
    timeout:close()
    vim.schedule(function()
      local pending = conn.pending[id]
      if pending then
        conn.pending[id] = nil
        pending(("cardex: no reply from the daemon at %s within %d ms"):format(M.socket_path(),
          M.config.timeout), nil)
      end
    end)
  end)
end

--- Synchronous request (for completion functions and scripts): returns result, err.
function M.request_sync(method, params)
  local done, result, errmsg = false, nil, nil
  M.request(method, params, function(err, res)
    done, result, errmsg = true, res, err
  end)
  vim.wait(M.config.timeout + 100, function() return done end, 5)
  if not done then return nil, "cardex: timed out" end
  return result, errmsg
end

local function notify_error(err)
  vim.notify(err, vim.log.levels.ERROR, { title = "cardex" })
end

--- Opens card `id` as Markdown in a scratch buffer.
function M.show(id)
  M.request("get", { id = id }, function(err, card)
    if err then return notify_error(err) end
    local lines = vim.split(card.body or "", "\n", { plain = true })
    table.insert(lines, "")
    table.insert(lines, "<!-- " .. card.id .. " · packs: " .. table.concat(card.packs or {}, ", ")
      .. " · clauses: " .. table.concat(card.primary_ids or {}, ", ") .. " -->")
    local name = "cardex://" .. card.id
    local buf = vim.fn.bufnr(name)
    if buf == -1 then
      buf = vim.api.nvim_create_buf(true, true)
      vim.api.nvim_buf_set_name(buf, name)
    end
    vim.bo[buf].modifiable = true
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].bufhidden = "hide"
    vim.bo[buf].swapfile = false
    vim.bo[buf].filetype = "markdown"
    vim.bo[buf].modifiable = false
    vim.api.nvim_set_current_buf(buf)
    vim.b[buf].cardex_id = card.id
  end)
end

--- Searches and offers the hits in vim.ui.select; the chosen card opens.
function M.search(query)
  if not query or query:match("^%s*$") then
    return notify_error("cardex: nothing to search for")
  end
  M.request("search", { query = query, limit = M.config.limit, highlight = { "", "" } },
    function(err, res)
      if err then return notify_error(err) end
      if #res.hits == 0 then
        return vim.notify("cardex: no cards match “" .. query .. "”", vim.log.levels.WARN)
      end
      vim.ui.select(res.hits, {
        prompt = ("cardex: %d of %d for “%s”"):format(#res.hits, res.total, query),
        format_item = function(hit)
          return hit.id .. "  " .. hit.question .. "  [" .. table.concat(hit.packs or {}, ", ") .. "]"
        end,
      }, function(hit)
        if hit then M.show(hit.id) end
      end)
    end)
end

function M.search_cword()
  M.search(vim.fn.expand("<cword>"))
end

--- The text of the last visual selection.
function M.visual_text()
  local s, e = vim.fn.getpos("'<"), vim.fn.getpos("'>")
  local lines = vim.api.nvim_buf_get_text(0, s[2] - 1, s[3] - 1, e[2] - 1,
    math.min(e[3], #vim.fn.getline(e[2])), {})
  return table.concat(lines, " ")
end

--- omnifunc / completefunc: completes card ids (Q077) and clause ids (ISO27001:2022/6.1.2).
function M.omnifunc(findstart, base)
  if findstart == 1 then
    local line = vim.api.nvim_get_current_line()
    local col = vim.api.nvim_win_get_cursor(0)[2]
    local start = col
    while start > 0 and line:sub(start, start):match("[%w%.:/_%-]") do start = start - 1 end
    return start
  end
  local items, seen = {}, {}
  local function add(word, menu)
    if not seen[word] then
      seen[word] = true
      table.insert(items, { word = word, menu = menu })
    end
  end
  if base:match("^[Qq]%d*$") then
    local res = M.request_sync("search", { query = "", id_prefix = base:upper(), limit = 100 })
    for _, h in ipairs(res and res.hits or {}) do add(h.id, h.question) end
  end
  if #base > 0 then
    local res = M.request_sync("search", { query = base, limit = 20 })
    local lb = base:lower()
    for _, h in ipairs(res and res.hits or {}) do
      for _, c in ipairs(h.clause_ids or {}) do
        if c:lower():find(lb, 1, true) then add(c, h.id .. " " .. h.question) end
      end
      if h.id:lower():find(lb, 1, true) == 1 then add(h.id, h.question) end
    end
  end
  return items
end

return M
