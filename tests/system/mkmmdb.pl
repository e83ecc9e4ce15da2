#!/usr/bin/perl
#
# mkmmdb.pl: writes a small MaxMind DB (.mmdb) for the tests, laid out as
# MaxMind and DB-IP ship theirs, with Debian's libmaxmind-db-writer-perl.
#
# Usage:
#	mkmmdb.pl [--type TYPE] [--ip-version 4|6] [--database-type NAME]
#	    [--record-size 24|28|32] OUT.mmdb [RECORD ...]
#
# Without RECORD arguments the records are read from stdin, one a line
# ('#' starts a comment, blank lines are skipped).  A record is
#
#	NETWORK [country=CC] [registered=CC] [name=TEXT] [city=TEXT]
#	    [asn=N] [org=TEXT]
#
# for example
#
#	127.0.0.16/28 country=RU asn=64496 org="Example Net"
#	2001:db8:1::/48 country=kp city=Pyongyang asn=64497
#
# NETWORK is CIDR, IPv4 or IPv6 (IPv6 needs --ip-version 6).  Values with
# spaces are double-quoted (shell-word rules, one record is one argument).
# country is country.iso_code (upper-cased), registered is
# registered_country.iso_code (default: the same as country), name is the
# country's English name (default: the code).  A key the TYPE does not
# store is ignored, so one spec can feed every type; a record left with
# nothing to store is skipped.  Later records overwrite earlier ones where
# they overlap.
#
# TYPE (default country), its metadata database_type, and what it stores:
#   country       GeoLite2-Country     country, registered_country
#   city          GeoLite2-City        country, registered_country, city
#   asn           GeoLite2-ASN         autonomous_system_number, _organization
#   dbip-country  DBIP-Country-Lite    country
#   dbip-city     DBIP-City-Lite       country, city
#   dbip-asn      DBIP-ASN-Lite (compat=GeoLite2-ASN)   as asn
#   enterprise    GeoIP2-Enterprise    country, registered_country, city,
#                                      traits.autonomous_system_number
#   flat          Flat-Country-ASN     {country => "CC", asn => "ASN"} as
#                                      top-level strings (ipinfo's layout),
#                                      which imapproxy does not read
# --database-type replaces the metadata name (to test detection by
# content).  --ip-version 6 (the default, as MaxMind ships) aliases
# ::ffff:0:0/96, 2001::/32 and 2002::/16 to the IPv4 space; IPv4 networks
# are written in dotted notation.  Reserved networks (127.0.0.0/8,
# 10.0.0.0/8, 2001:db8::/32, ...) are kept: the tests use loopback.
#
# Exit status 0, or 1 with a message on stderr (2 for a usage error).

use strict;
use warnings;

use Getopt::Long qw(GetOptionsFromArray);
use MaxMind::DB::Writer::Tree;
use Text::ParseWords qw(shellwords);

my %TYPES = (
	'country' => {
		name => 'GeoLite2-Country', keys => [qw(country registered)],
	},
	'city' => {
		name => 'GeoLite2-City',
		keys => [qw(country registered city)],
	},
	'asn' => { name => 'GeoLite2-ASN', keys => [qw(asn)] },
	'dbip-country' => {
		name => 'DBIP-Country-Lite', keys => [qw(country)],
	},
	'dbip-city' => {
		name => 'DBIP-City-Lite', keys => [qw(country city)],
	},
	'dbip-asn' => {
		name => 'DBIP-ASN-Lite (compat=GeoLite2-ASN)',
		keys => [qw(asn)],
	},
	'enterprise' => {
		name => 'GeoIP2-Enterprise',
		keys => [qw(country registered city traits)],
	},
	'flat' => { name => 'Flat-Country-ASN', keys => [qw(flat)] },
);

my %COUNTRY_NAMES = (
	CN => 'China', DE => 'Germany', FR => 'France',
	GB => 'United Kingdom', JP => 'Japan', KP => 'North Korea',
	NL => 'Netherlands', RU => 'Russia', US => 'United States',
);

my %KEY_TYPES = (
	autonomous_system_number	=> 'uint32',
	autonomous_system_organization	=> 'utf8_string',
	city				=> 'map',
	code				=> 'utf8_string',
	continent			=> 'map',
	country				=> 'map',
	en				=> 'utf8_string',
	geoname_id			=> 'uint32',
	iso_code			=> 'utf8_string',
	names				=> 'map',
	registered_country		=> 'map',
	traits				=> 'map',
);

sub usage {
	print STDERR "usage: mkmmdb.pl [--type TYPE] [--ip-version 4|6] ",
	    "[--database-type NAME]\n",
	    "           [--record-size 24|28|32] OUT.mmdb [RECORD ...]\n",
	    "TYPE: ", join(' ', sort keys %TYPES), "\n";
	exit 2;
}

# A stable made-up geoname_id, so that a country map has more than one key.
sub geoname_id {
	my ($code) = @_;

	return 1000 + ord(substr($code, 0, 1)) * 100 + ord(substr($code, 1, 1));
}

sub country_map {
	my ($code, $name) = @_;

	return {
		geoname_id => geoname_id($code),
		iso_code => $code,
		names => { en => $name // $COUNTRY_NAMES{$code} // $code },
	};
}

sub parse_record {
	my ($text, $where) = @_;
	my @w = shellwords($text);
	my %r;

	die "$where: expected NETWORK key=value ...\n" unless @w;
	$r{network} = shift @w;
	die "$where: $r{network}: expected a network in CIDR notation\n"
	    unless $r{network} =~ m{^[0-9A-Fa-f:.]+(/\d+)?$};
	for my $kv (@w) {
		my ($k, $v) = $kv =~ /^([a-z]+)=(.*)$/s
		    or die "$where: $kv: expected key=value\n";
		if ($k eq 'country' || $k eq 'registered') {
			die "$where: $k=$v: expected a two-letter code\n"
			    unless $v =~ /^[A-Za-z]{2}$/;
			$v = uc $v;
		} elsif ($k eq 'asn') {
			$v =~ s/^AS//i;
			die "$where: asn=$v: expected 1-4294967295\n"
			    unless $v =~ /^\d{1,10}$/ && $v > 0 &&
			    $v <= 4294967295;
			$v += 0;
		} elsif ($k !~ /^(name|city|org)$/) {
			die "$where: $k: unknown key, expected country, ",
			    "registered, name, city, asn or org\n";
		}
		$r{$k} = $v;
	}
	return \%r;
}

# The data of one record for the type, or undef when it has nothing.
sub record_data {
	my ($r, $type) = @_;
	my %want = map { $_ => 1 } @{ $TYPES{$type}{keys} };
	my $reg = $r->{registered} // $r->{country};
	my %d;

	if ($want{flat}) {
		$d{country} = $r->{country} if defined $r->{country};
		$d{asn} = "AS$r->{asn}" if defined $r->{asn};
		return %d ? \%d : undef;
	}
	$d{country} = country_map($r->{country}, $r->{name})
	    if $want{country} && defined $r->{country};
	$d{registered_country} = country_map($reg, undef)
	    if $want{registered} && defined $reg;
	$d{city} = { names => { en => $r->{city} } }
	    if $want{city} && defined $r->{city};
	if (defined $r->{asn} && ($want{asn} || $want{traits})) {
		my %a = (
			autonomous_system_number => $r->{asn},
			autonomous_system_organization =>
			    $r->{org} // "AS$r->{asn}",
		);
		if ($want{asn}) {
			%d = (%d, %a);
		} else {
			$d{traits} = \%a;
		}
	}
	return %d ? \%d : undef;
}

my ($type, $ipv, $dbtype, $rsize) = ('country', 6, undef, 24);
GetOptionsFromArray(\@ARGV,
    'type=s' => \$type,
    'ip-version=i' => \$ipv,
    'database-type=s' => \$dbtype,
    'record-size=i' => \$rsize,
) or usage();
usage() unless @ARGV >= 1 && $TYPES{$type} && ($ipv == 4 || $ipv == 6) &&
    ($rsize == 24 || $rsize == 28 || $rsize == 32);
my $out = shift @ARGV;

my @lines;
if (@ARGV) {
	my $i = 0;
	@lines = map { [ 'argument ' . ++$i, $_ ] } @ARGV;
} else {
	while (my $l = <STDIN>) {
		chomp $l;
		$l =~ s/^\s+//;
		next if $l eq '' || $l =~ /^#/;
		push @lines, [ "stdin:$.", $l ];
	}
}

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version => $ipv,
	record_size => $rsize,
	database_type => $dbtype // $TYPES{$type}{name},
	languages => ['en'],
	description => { en => "imapproxy test database ($type)" },
	map_key_type_callback => $type eq 'flat' ?
	    sub { 'utf8_string' } : sub { $KEY_TYPES{ $_[0] } },
	alias_ipv6_to_ipv4 => $ipv == 6 ? 1 : 0,
	remove_reserved_networks => 0,
);

for my $l (@lines) {
	my ($where, $text) = @$l;
	my $r = eval { parse_record($text, $where) };
	if (!defined $r) {
		print STDERR "mkmmdb.pl: $@";
		exit 1;
	}
	my $d = record_data($r, $type) or next;
	if (!eval { $tree->insert_network($r->{network}, $d); 1 }) {
		my $e = $@;
		$e =~ s/ at \S+ line \d+.*//s;
		print STDERR "mkmmdb.pl: $where: $r->{network}: $e\n";
		exit 1;
	}
}

my $fh;
if (!open($fh, '>:raw', $out)) {
	print STDERR "mkmmdb.pl: $out: $!\n";
	exit 1;
}
$tree->write_tree($fh);
if (!close($fh)) {
	print STDERR "mkmmdb.pl: $out: $!\n";
	exit 1;
}
exit 0;
