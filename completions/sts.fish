complete --keep-order --exclusive --command sts --arguments "(COMPLETE=fish sts -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
