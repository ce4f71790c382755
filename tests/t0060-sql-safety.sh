#!/bin/bash
# t0060-sql-safety -- SQL is never built from data.  Values go to the server
# as parameters (PQexecParams, prepared statements, COPY); SQL text is a
# literal, a constant, or assembled from literals and identifiers quoted
# with PQescapeIdentifier.  This test lists every place that hands the
# server SQL that is not a string literal, and every printf-style call that
# splices text into SQL, and fails on any place not in the reviewed lists
# below: a new one must be reviewed (is every piece a literal or a quoted
# identifier?) and added here.
. "$(dirname "$0")/lib.sh"

# "file<TAB>call<TAB>sql argument" for every libpq call whose SQL is not a literal
sql_args() {
	perl -0777 -ne '
		while (/\b(PQexec|PQexecParams|PQprepare|PQsendQueryParams|PQsendPrepare)\s*\(/g) {
			my ($fn, $i, $d, $args) = ($1, pos($_), 1, "");
			while ($d > 0 && $i < length($_)) {
				my $c = substr($_, $i++, 1);
				$d++ if $c eq "("; $d-- if $c eq ")";
				$args .= $c if $d > 0;
			}
			my @a; my $cur = ""; my $depth = 0; my $q = 0; my $esc = 0;
			for my $c (split //, $args) {
				if ($q) { $q = 0 if $c eq "\"" && !$esc; $esc = !$esc && $c eq "\\"; $cur .= $c; next }
				$q = 1 if $c eq "\"";
				$depth++ if $c eq "("; $depth-- if $c eq ")";
				if ($c eq "," && !$depth) { push @a, $cur; $cur = ""; next }
				$cur .= $c;
			}
			push @a, $cur;
			my $s = $a[($fn eq "PQprepare" || $fn eq "PQsendPrepare") ? 2 : 1];
			$s =~ s/^\s+|\s+$//g; $s =~ s/\s+/ /g;
			(my $f = $ARGV) =~ s{.*/(common|bin)/}{$1/};
			print "$f\t$fn\t$s\n" unless $s =~ /^"/;
		}' "$@" | LC_ALL=C sort -u
}

# "file<TAB>arguments" of printf-style calls whose format holds SQL and a %s
spliced() {
	perl -ne '
		(my $f = $ARGV) =~ s{.*/(common|bin)/}{$1/};
		print "$f\t$1\n" if /\b(?:sb_addf|snprintf)\s*\((.*(?:SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|SET|INTO)[^;]*%s.*)\);/;
	' "$@" | sed 's/^\([^\t]*\)\t.*"\(,.*\)$/\1\t\2/' | LC_ALL=C sort -u
}

SRCS=$(ls "$SRC"/common/*/*.c "$SRC"/common/dom/*/*.c "$SRC"/bin/*.c)

test_expect_success 'every non-literal SQL text handed to libpq is a reviewed one' '
	sql_args $SRCS >got &&
	cat >expect <<-\EOT &&
	common/pg/catalog.c	PQexecParams	cat_sql
	common/pg/pgconn.c	PQexecParams	sql
	common/pg/pgconn.c	PQprepare	stmts->sql
	common/pg/pglisten.c	PQexecParams	init[i]
	common/pg/pglisten.c	PQprepare	stmts[i].sql
	common/pg/pgresume.c	PQexecParams	sql
	common/pg/pgsnap.c	PQexecParams	sql
	common/pg/pgw_stmt.c	PQexecParams	m->s_copy.buf
	common/pg/pgw_stmt.c	PQexecParams	m->s_create.buf
	common/pg/pgw_stmt.c	PQprepare	s->buf
	common/pg/pgw_stmt.c	PQsendQueryParams	sql
	common/pg/pgwrite.c	PQprepare	sql
	common/status/collect.c	PQexecParams	q.buf
	common/status/collect.c	PQexecParams	sql
	EOT
	test_cmp expect got
'

test_expect_success 'text spliced into SQL is only quoted identifiers' '
	spliced $SRCS >got &&
	cat >expect <<-\EOT &&
	common/pg/pglisten.c	, tab.buf
	common/pg/pgsnap.c	, t.qname
	common/pg/pgw_stmt.c	, lhs.buf, rhs.buf
	common/pg/pgw_stmt.c	, t->qname
	common/pg/pgw_stmt.c	, t->qname, where.buf
	common/pg/pgwrite.c	, tn.buf
	EOT
	test_cmp expect got
'

test_expect_success 'the check itself finds a new place' '
	mkdir -p fake/common/pg &&
	printf "%s\n" "void f(PGconn *c, const char *v) { char q[99]; snprintf(q, 99, \"SELECT * FROM t WHERE x = %s\", v); PQexecParams(c, q, 0, 0, 0, 0, 0, 0); }" >fake/common/pg/bad.c &&
	sql_args fake/common/pg/bad.c | grep -q "PQexecParams	q" &&
	spliced fake/common/pg/bad.c | grep -q ", v"
'

test_done
