# Boots the L2 guest and checks that vsock reaches it (a layout check).
role_l1() {
	start_l2 l2boot || return 1
	wait_l2
}
role_l2() {
	say "L2 up: $(uname -r), vsock devices: $(ls /dev/vsock)"
}
