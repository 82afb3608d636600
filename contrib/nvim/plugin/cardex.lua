-- cardex.nvim commands: :Cardex [QUESTION], :CardexShow ID. See contrib/nvim/README in docs/integrations.md.
if vim.g.loaded_cardex then return end
vim.g.loaded_cardex = true

vim.api.nvim_create_user_command("Cardex", function(opts)
  local cardex = require("cardex")
  if opts.args ~= "" then
    cardex.search(opts.args)
  elseif opts.range > 0 then
    cardex.search(cardex.visual_text())
  else
    cardex.search_cword()
  end
end, { nargs = "*", range = true, desc = "search cardex cards (no argument: word under cursor or selection)" })

vim.api.nvim_create_user_command("CardexShow", function(opts)
  require("cardex").show(opts.args)
end, { nargs = 1, desc = "open a cardex card by id" })
