# tests/stakevault/frames.sh -- hand-written rpc-listen frames of the
# StakeVault logs, for the offline tests (t5010, t5020).  Sourced.
#   frame SEQ BLOCK HASH TS [EVENT-JSON-TAIL...]   one StartBlock frame
#   revert SEQ BLOCK HASH                           one RevertBlock frame
#   staked WALLET WORD / unstaked WALLET WORD       an event's topics and data
#   word N                                          N as a 32-byte hex word
V=0xe7f1725e7734ce288f8367e1bb143e90bb3f0512
W=0x70997970c51812dc3a010c7d01b50e0d17dc79c8
S=0x9e71bc8eea02a63969f509818f2dafb9254532904319f9dbda79b67bd34a5f3d
U=0xf5bb82176feb1b5e747e28471aa92156a04d9f3ab9f45f28e2d704232b93f75
R=0x6b86b411d108b7e7f6a78941df4fc02eca326ba7e6e470ac32ded9b7ba1dea1
H1=0xff00000000000000000000000000000000000000000000000000000000000001
H2=0xff00000000000000000000000000000000000000000000000000000000000002
H3=0xff00000000000000000000000000000000000000000000000000000000000003
TX=0xfeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface
word() { printf '%064x' "$1"; }

# frame SEQ BLOCK HASH TS [EVENT-JSON-TAIL...]: one StartBlock frame.
frame() {
	s=$1 b=$2 h=$3 t=$4
	shift 4
	prev=null
	[ "$s" -gt 1 ] && prev="{\"driver_id\":$((s - 1)),\"seq\":$((s - 1))}"
	echo "{\"op\":\"begin\",\"driver_id\":$s,\"seq\":$s,\"type\":\"StartBlock\",\"block_number\":$b,\"block_hash\":\"$h\",\"timestamp\":$t,\"prev\":$prev}"
	i=0
	for e in "$@"; do
		echo "{\"op\":\"event\",\"block_number\":$b,\"block_hash\":\"$h\",\"timestamp\":$t,\"tx\":\"$TX\",\"tx_index\":0,\"log_index\":$i,\"address\":\"$V\",$e}"
		i=$((i + 1))
	done
	echo "{\"op\":\"end\",\"driver_id\":$s}"
}
revert() {
	echo "{\"op\":\"begin\",\"driver_id\":$1,\"seq\":$1,\"type\":\"RevertBlock\",\"block_number\":$2,\"block_hash\":\"$3\",\"reverts\":[\"$3\"],\"prev\":{\"driver_id\":$(($1 - 1)),\"seq\":$(($1 - 1))}}"
	echo "{\"op\":\"end\",\"driver_id\":$1}"
}
staked() { echo "\"topics\":[\"$S\",\"0x000000000000000000000000${1#0x}\"],\"data\":\"0x$2\""; }
unstaked() { echo "\"topics\":[\"$U\",\"0x000000000000000000000000${1#0x}\"],\"data\":\"0x$2\""; }
