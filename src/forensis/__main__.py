from forensis.cli import main

main()
