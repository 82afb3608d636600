-- nvim_test.lua — cardex.nvim against a real cardexd (run by editors_test.py, headless).
local cardex = require("cardex")
cardex.setup({ socket = vim.env.CARDEX_SOCKET, timeout = 5000 })
local failures = 0
local function check(cond, what)
  if not cond then
    failures = failures + 1
    io.stderr:write("FAIL: " .. what .. "\n")
  else
    io.stdout:write("ok: " .. what .. "\n")
  end
end
local function wait_for(pred) return vim.wait(8000, pred, 10) end

-- request/response over the pipe
local res, err = cardex.request_sync("ping", nil)
check(res and res.pong == true and res.version == "1.0", "ping over vim.loop pipe " .. tostring(err))

-- :Cardex QUESTION: the picker gets the hits; choosing the first opens it as Markdown.
local offered
vim.ui.select = function(items, opts, on_choice)
  offered = items
  local pick
  for _, it in ipairs(items) do if it.id == "Q077" then pick = it end end
  on_choice(pick or items[1])
end
vim.cmd("Cardex information security management system")
check(wait_for(function() return vim.b.cardex_id ~= nil end), ":Cardex opened a card")
check(offered and #offered > 0, ":Cardex offered hits in vim.ui.select")
check(vim.bo.filetype == "markdown", "card buffer is markdown")
local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
check(text:find("Plain-English answer", 1, true) ~= nil, "card buffer has the answer section")
check(vim.api.nvim_buf_get_name(0):find("cardex://Q077", 1, true) ~= nil, "buffer named cardex://Q077")

-- :CardexShow ID
vim.b.cardex_id = nil
vim.cmd("enew")
vim.cmd("CardexShow Q077")
check(wait_for(function() return vim.b.cardex_id == "Q077" end), ":CardexShow Q077")

-- word under cursor
vim.cmd("enew")
vim.api.nvim_buf_set_lines(0, 0, -1, false, { "we need an isms" })
vim.api.nvim_win_set_cursor(0, { 1, 12 })
offered = nil
vim.cmd("Cardex")
check(wait_for(function() return offered ~= nil end), ":Cardex searched the word under the cursor")

-- visual selection
vim.cmd("enew")
vim.api.nvim_buf_set_lines(0, 0, -1, false, { "how do we build an information security management system" })
vim.cmd("normal! 0v$\27")
offered = nil
vim.cmd("'<,'>Cardex")
check(wait_for(function() return offered ~= nil end), ":'<,'>Cardex searched the selection")

-- omnifunc: card ids and clause ids
local items = cardex.omnifunc(0, "Q07")
local ids = {}
for _, it in ipairs(items) do ids[it.word] = true end
check(ids["Q077"], "omnifunc completes Q07 -> Q077")
items = cardex.omnifunc(0, "ISO27001:2022/4")
local found = false
for _, it in ipairs(items) do if it.word == "ISO27001:2022/4" then found = true end end
check(found, "omnifunc completes clause id ISO27001:2022/4")

-- daemon down: a clear message, no error thrown
cardex.setup({ socket = "/nonexistent/cardex.sock", timeout = 1000 })
local r2, e2 = cardex.request_sync("ping", nil)
check(r2 == nil and e2 and e2:find("cannot reach the daemon at /nonexistent/cardex.sock", 1, true),
  "clear message when the daemon is down: " .. tostring(e2))

if failures > 0 then vim.cmd("cquit 1") else vim.cmd("qall!") end
