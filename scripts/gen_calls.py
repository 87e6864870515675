#!/usr/bin/env python3
# gen_calls.py -- luastream's synthetic input generator. Owns the test/bench
# data shape: San Francisco police "calls for service" records in the real
# 14-string-field schema, written newest first. Deterministic for a given
# --seed; streams its output; Python 3 stdlib only. The weighted tables below
# were derived once from frequency counts of a real sample and are hard-coded:
# nothing is read at run time.
"""Generate realistic SF police call records.

usage: gen_calls.py [--count N] [--seed S] [--out PATH|-] [--format array|ndjson]
                    [--start ISO] [--days D]

crime_id follows the source system's YYDDDNNNN form (year, day of year, daily
sequence) while every day fits in 4 digits; denser runs (more than ~10k calls
per day, e.g. 1M records over 45 days) switch to one global 9-digit counter.
Either way ids increase with event time.
"""

import argparse
import datetime as dt
import json
import math
import random
import sys
from bisect import bisect_right

# ---------------------------------------------------------------------------
# Tables. Packed as "weight item|weight item|..." (line breaks are spaces).
# ---------------------------------------------------------------------------

# original_crime_type_name -> frequency in the sample (types seen at least twice),
# then a few one-off types weighted 3 to stand in for the long tail of rare ones.
CRIME_TYPES = """
1283 Passing Call|543 Traffic Stop|325 Suspicious Person|314 Traf Violation
Cite|265 Muni Inspection|226 Audible Alarm|207 Homeless Complaint|189
Trespasser|186 Well Being Check|184 Suspicious Vehicle|143 22500e|140 Fight
No Weapon|101 Auto Boost / Strip|101 Noise Nuisance|93 Traf Violation Tow|92
Petty Theft|87 Mentally Disturbed|81 Poss|74 Assault / Battery|72 Meet
W/citizen|69 Complaint Unkn|63 22500f|63 Drugs|54 Burglary|52 Threats /
Harassment|51 Stolen Vehicle|48 601|44 Vandalism|43 7.2.46|43 500e|41 518|40
Fraud|37 Dw|36 Veh Accident|33 Prisoner Transport|32 Rep|32 Wanted Vehicle /
Sub|31 H&r Veh Accident|30 Jo|28 909|23 Suicide Attempt|23 919|21 Verbal|19
Missing Adult|19 Aggressive|18 Injury Veh Accident|18 Missing Juvenile|18
Person W/knife|18 Arrest Made|17 Assault / Battery Dv|16 Strongarm
Robbery|16 Reckless|16 Aided Case|16 Ip|16 Fight No Weapon Dv|15 7,2,46|14
Fire|14 Intoxicated Person|14 Report|14 Stolen Property|14 500f|13 915|12
Caser|12 488|11 Sw|11 Panic Alarm|11 Male|11 22500h|11 Family|10 Sexual
Assault Adult|10 Robbery|10 Unoccupied|10 415|9 Att|9 Meet W/officer|9
Silent Alarm|9 Drop|9 Graffiti Vandalism|9 650|9 Grand Theft|9 Ro
Violation|9 800 Poss|9 Recover Missing Veh|9 Citizen Arrest|9 910|9 Susp|9
Citizen Standby|8 Person W/gun|8 Silent Holdup Alarm|8 Physical|8 Sleeper|8
Indecent Exposure|8 917|7 Casing|7 Person Down|7 7.2.27|7 Ringing Doorbell|7
Person Screaming|6 H&r Injury Accident|6 Vehicle Alarm|6 Rtl|6 Return|6 X|5
Drunk Driver|5 Prowler|5 Demo / Protest|5 Pay Dispute|5 Muni Alarm|5 Shots
Fired|5 Person Breaking In|5 222|5 Alarm|5 Poss Unreported|5 Music|5 Person
Dumping|5 At Risk|5 22514|5 7.2.25/22500e|4 22500e/rz|4 519|4 519 Poss|4
852|4 586|4 Nabor|4 Npat|4 Case|4 Agg Assault / Adw|4 22500e/7.2.25|3
Panhandler|3 22500b|3 Road Rage|3 Heated Verbal|3 Psych Eval / Hold|3 Open
Line|3 Busn|3 Sleepers|3 Ped|3 22500e/.25|3 Unocc|3 418|3 221|3 800|3 911
Drop|3 Chop Shop|3 Sexual Assault Juve|3 Sexual|3 Squatters|3
Skateboarders|3 240|3 Open|3 Video|3 Heated|3 7.2.25|2 Party|2 Vict|2
Vendor|2 Vict Veh|2 Veh Vs Ped|2 Nabors|2 Dog|2 R/o|2 Poss 800|2 Hu|2 Poss
152|2 Attp|2 Static|2 916|2 7.2.26|2 487|2 7,2,45|2 Uwg|2 Attempt|2 Dog
Barking|2 Opportunist|2 Poss Ip|2 311|2 Susp Poss|2 Att Jo|2 Over Parking
Spot|2 Poss Physical|2 Senile Person|2 Stabbing|2 Purse Snatch|2 Hazard|2
Video Footage|2 Aggr Soliciting|2 X Poss|2 Juve Beyond Control|2 7.2.41|2
500e/rz|2 Campers|2 Loud Music|2 518hr|2 601 Rtl|2 7.2.45|2 Lp|2 Ip Poss|
3 Fireworks|3 Explosion|3 240 Attempt|3 222 Poss|3 Leaf Blower|3 Threats
Dv|3 Drug Use|3 601/811|3 419|3 Bomb Threat|3 W/surveillance|3 Parking|3
Aggessive|3 Custody|3 261 Poss|3 418// Lltd|3 915 Poss|3 Minibike|3 Poss
Veh|3 22502a|3 594|3 500h|3 Poss 5150|3 Drugs W/909|3 7.2.35|3 J/o|3 245
Poss|3 Open Line Static|3 915/drugs|3 Taser|3 488/852|3 Rtl Private
Property|3 Re: 601|3 Encampment|3 Dispute|3 Drag Racing|3 Juvenile
Disturbance|3 Susp Veh|3 Heated Verb|3 Drug Dealers|3 Package Thief|3
Kidnapping|3 Road Rage/594
"""

# Disposition mix per crime type for the 30 most common types, "*" for all
# others ("_" stands for a space). CRM, CSA and VAS never occur in the sample;
# they get weight 1 so every radio code shows up in large runs.
DISPOSITIONS = """
Passing Call=HAN:788 Not_recorded:420 ND:53 ADV:11 GOA:7 CIT:3 UTL:1
Traffic Stop=CIT:266 ADV:199 HAN:44 ND:17 ADM:8 REP:6 Not_recorded:2 NOM:1
Suspicious Person=ADV:121 HAN:57 GOA:52 CIT:29 ND:18 ARR:13 UTL:11 REP:9 Not_recorded:6 ADM:4 NOM:2 CAN:2 22:1
Traf Violation Cite=GOA:100 CIT:91 NOM:35 ADV:24 Not_recorded:16 OTS:12 CAN:9 UTL:9 GEN:8 HAN:7 22:3
Muni Inspection=Not_recorded:159 HAN:102 ND:4
Audible Alarm=PAS:117 NCR:40 CAN:34 HAN:14 22:9 NOM:7 UTL:2 ND:1 REP:1 ARR:1
Homeless Complaint=HAN:112 ADV:49 GOA:18 CIT:12 ND:6 UTL:5 ARR:2 Not_recorded:2 CAN:1
Trespasser=ADV:58 GOA:55 HAN:34 CAN:20 UTL:12 CIT:4 Not_recorded:2 ND:1 22:1 REP:1 NOM:1
Well Being Check=HAN:74 UTL:31 GOA:24 NOM:15 ADV:11 REP:8 ND:8 CAN:5 Not_recorded:5 22:2 NCR:1 SFD:1 PAS:1
Suspicious Vehicle=ADV:77 HAN:41 CIT:20 ND:15 GOA:13 UTL:8 Not_recorded:3 CAN:2 ARR:2 ADM:1 NCR:1 NOM:1 VAS:1
22500e=CIT:61 GOA:37 CAN:19 HAN:17 NOM:6 UTL:1 Not_recorded:1 22:1
Fight No Weapon=HAN:38 GOA:20 ABA:15 UTL:14 ND:11 NOM:11 CAN:10 REP:9 Not_recorded:6 ADV:5 ARR:1
Auto Boost / Strip=REP:69 GOA:7 HAN:6 ND:5 ADV:4 UTL:4 NOM:3 ARR:1 CIT:1 CAN:1
Noise Nuisance=GOA:30 ADV:19 UTL:18 HAN:16 NOM:7 CAN:5 ND:3 22:2 ARR:1
Traf Violation Tow=GOA:23 HAN:21 CIT:16 CAN:15 NOM:6 Not_recorded:4 22:4 ADV:4
Petty Theft=REP:42 HAN:17 GOA:10 CAN:7 ADV:5 ND:4 UTL:4 ABA:2 NOM:1
Mentally Disturbed=GOA:25 HAN:21 ADV:13 UTL:11 ND:5 NOM:3 REP:3 Not_recorded:3 22:1 ARR:1 CAN:1
Poss=HAN:21 GOA:11 NOM:10 ND:9 UTL:7 PAS:7 REP:7 ADV:4 Not_recorded:3 ARR:1 CAN:1
Assault / Battery=REP:19 HAN:18 GOA:13 UTL:6 ABA:4 NOM:4 ARR:4 ND:3 CAN:1 ADV:1 Not_recorded:1
Meet W/citizen=HAN:43 REP:13 ADV:4 ND:4 GOA:1 ABA:1 ARR:1 Not_recorded:1 SFD:1 UTL:1 CAN:1 CIT:1
Complaint Unkn=NOM:23 HAN:12 UTL:9 CAN:5 PAS:4 Not_recorded:4 NCR:3 REP:2 ND:2 SFD:1 22:1 GOA:1 ARR:1 ADV:1
22500f=GOA:25 CIT:21 NOM:10 UTL:4 CAN:2 HAN:1
Drugs=GOA:32 ADV:12 UTL:6 HAN:5 Not_recorded:2 REP:1 CAN:1 22:1 ND:1 CIT:1 NOM:1
Burglary=REP:22 NOM:11 HAN:5 GOA:4 UTL:3 NCR:2 Not_recorded:1 ADV:1 ARR:1 ND:1 PAS:1 22:1 CIT:1
Threats / Harassment=GOA:14 REP:8 HAN:7 ND:6 NOM:5 UTL:4 CAN:3 ADV:1 Not_recorded:1 22:1 NCR:1 ARR:1
Stolen Vehicle=REP:40 HAN:4 Not_recorded:1 22:1 UTL:1 GOA:1 CAN:1 NOM:1 ARR:1
601=HAN:16 GOA:13 CAN:5 ADV:4 UTL:4 REP:3 ND:1 22:1 ABA:1
Vandalism=REP:14 GOA:12 UTL:5 HAN:4 NOM:2 ADV:2 ND:2 ARR:2 Not_recorded:1
7.2.46=HAN:14 GOA:7 CIT:7 CAN:7 ADV:4 NOM:3 Not_recorded:1
500e=GOA:14 CIT:13 CAN:7 HAN:6 NOM:2 ADV:1
*=HAN:367 REP:310 GOA:224 UTL:125 ND:101 ADV:96 NOM:84 CAN:70 CIT:67 Not_recorded:34 ARR:25 ABA:17 NCR:15 22:13 PAS:13 ADM:2 SFD:2 FIR:1 CRM:1 CSA:1
"""

# Premise addresses seen at least 5 times (about 19% of premise calls).
PREMISE_HOTSPOTS = """
21 1100 Block Of Market St|20 100 Block Of Mcallister St|20 900 Block Of
Market St|16 200 Block Of Golden Gate Av|14 4000 Block Of 18th St|14 800
Block Of Market St|14 100 Block Of 6th St|13 100 Block Of Dore St|13 400
Block Of Eddy St|13 700 Block Of Avenue Of The Palms|13 500 Block Of Castro
St|12 1000 Block Of Polk St|12 0 Block Of Mcallister St|12 3300 Block Of
26th St|11 400 Block Of Golden Gate Av|11 400 Block Of Ellis St|10 300 Block
Of Hyde St|10 400 Block Of 13th St|9 200 Block Of Williams Av|9 500 Block Of
Valencia St|9 3200 Block Of California St|9 0 Block Of Grove St|9 200 Block
Of 6th St|9 1000 Block Of Market St|9 200 Block Of Turk St|9 900 Block Of
Geary St|8 1000 Block Of Potrero Av|8 400 Block Of Turk St|8 300 Block Of
King St|8 2000 Block Of Market St|7 100 Block Of Eddy St|7 1000 Block Of
Sutter St|7 700 Block Of Market St|7 0 Block Of Stockton St|7 500 Block Of
Turk St|7 1000 Block Of Mission St|7 300 Block Of Ellis St|7 100 Block Of
Fell St|7 400 Block Of Leavenworth St|7 400 Block Of Castro St|7 400 Block
Of Jones St|6 1000 Block Of Howard St|6 800 Block Of Mission St|6 0 Block Of
United Nations Pz|6 500 Block Of Natoma St|6 500 Block Of Ellis St|6 0 Block
Of Abbey St|6 200 Block Of Hyde St|6 700 Block Of Eddy St|6 700 Block Of
Natoma St|6 1500 Block Of Jones St|5 3100 Block Of 16th St|5 600 Block Of
Market St|5 1000 Block Of Stockton St|5 600 Block Of Hayes St|5 200 Block Of
Powell St|5 500 Block Of South Van Ness Av|5 400 Block Of Geary St|5 1200
Block Of Market St|5 500 Block Of Stevenson St|5 1500 Block Of Polk St|5 300
Block Of Golden Gate Av|5 500 Block Of Sutter St|5 100 Block Of Mason St|5
2700 Block Of 44th Av|5 500 Block Of Ofarrell St|5 1200 Block Of Fitzgerald
Av|5 1900 Block Of Mission St|5 200 Block Of Eddy St|5 1500 Block Of Market
St|5 300 Block Of Leavenworth St|5 1100 Block Of Fairfax Av|5 900 Block Of
Harrison St|5 400 Block Of Sutter St|5 1000 Block Of Geneva Av|5 200 Block
Of Ofarrell St|5 500 Block Of 5th St|5 100 Block Of Grove St|5 2100 Block Of
Market St|5 4600 Block Of Mission St
"""

# "weight max_block street": premise streets seen at least 3 times, with the
# highest hundred-block observed (block numbers are drawn 0..max_block*100).
STREETS = """
126 36 Market St|96 59 Mission St|43 20 Eddy St|43 19 Turk St|42 70
California St|40 20 Mcallister St|36 27 Golden Gate Av|35 21 Ellis St|35 21
Sutter St|35 67 3rd St|33 46 18th St|33 33 Van Ness Av|33 10 Geary St|30 28
Hyde St|29 23 Jones St|28 30 Polk St|27 37 Folsom St|27 28 Harrison St|27 15
Valencia St|26 23 Stockton St|25 19 Haight St|25 8 6th St|25 25 Bryant St|24
15 Castro St|23 38 16th St|23 26 Post St|23 26 Bayshore Bl|22 22 Grove St|22
71 Geary Bl|20 16 Howard St|20 18 Ofarrell St|20 25 Bush St|19 13 Powell
St|19 14 South Van Ness Av|18 26 Chestnut St|18 25 Fillmore St|18 21
Leavenworth St|17 29 Franklin St|17 40 26th St|16 19 Waller St|15 36 Jackson
St|15 29 Vallejo St|15 1 Dore St|15 29 Pine St|15 20 Larkin St|15 5 7th
St|15 7 Avenue Of The Palms|15 13 Potrero Av|15 14 Stevenson St|14 26
Clement St|14 14 Natoma St|14 25 Ocean Av|14 37 Clay St|13 20 Beach St|13 42
San Bruno Av|13 27 Lombard St|13 21 Hayes St|13 18 8th Av|13 19 Oakdale
Av|12 12 4th St|12 30 Webster St|12 37 Divisadero St|12 21 Fell St|12 15 5th
Av|11 16 27th Av|11 12 Columbus Av|11 7 5th St|11 37 22nd St|11 18 Fulton
St|11 24 20th Av|11 26 Mason St|11 29 Pacific Av|11 16 Fairfax Av|11 28
Geneva Av|10 45 20th St|10 48 17th St|10 46 Irving St|10 27 28th Av|10 4
13th St|10 35 Taraval St|10 16 Guerrero St|10 24 Taylor St|10 23 22nd Av|10
8 2nd St|10 36 Sacramento St|10 19 Page St|10 11 Montgomery St|9 24 18th
Av|9 18 Sunnydale Av|9 2 Williams Av|9 25 Francisco St|9 19 10th Av|9 14 4th
Av|9 27 44th Av|9 14 Kearny St|9 7 Sansome St|9 19 Green St|9 13 Minna St|9
28 Broadway|9 7 8th St|9 46 Balboa St|9 29 Alemany Bl|9 24 15th St|9 24 19th
Av|9 11 Cole St|8 5 Dolores St|8 38 21st St|8 22 15th Av|8 1 United Nations
Pz|8 16 Cortland Av|8 3 West Portal Av|8 29 Broderick St|8 3 King St|8 9
Brannan St|8 26 31st Av|8 3 29th St|8 20 12th Av|7 20 Grant Av|7 5 Parnassus
Av|7 42 24th St|7 1 Maiden Ln|7 23 Shafter Av|7 5 10th St|7 40 Cesar Chavez
St|7 10 Capitol Av|7 13 Missouri St|7 24 Greenwich St|7 3 Farallones St|7 12
Fitzgerald Av|7 23 46th Av|7 14 6th Av|6 1 Columbia Square St|6 12 Shotwell
St|6 11 Naples St|6 11 Alabama St|6 6 Townsend St|6 11 Florida St|6 33
Buchanan St|6 22 Revere Av|6 5 Tehama St|6 5 Jefferson St|6 15 Sanchez St|6
24 Jerrold Av|6 2 Albion St|6 19 Baker St|6 18 11th Av|6 13 3rd Av|6 0 Abbey
St|6 17 Palou Av|6 10 Steiner St|6 2 Julian Av|6 23 Union St|6 26 34th Av|6
25 25th Av|5 3 Spear St|5 9 Ashbury St|5 19 9th Av|5 22 Bay St|5 4
Bridgeview Dr|5 20 48th Av|5 38 Lincoln Wy|5 20 Silver Av|5 41 Noriega St|5
16 26th Av|5 1 New Montgomery St|5 7 Bowdoin St|5 18 24th Av|5 13 La Playa|5
2 Hartford St|5 6 14th St|5 28 Mariposa St|5 9 Treat Av|5 11 Stanyan St|5 8
Front St|5 18 Mckinnon Av|5 33 Cabrillo St|5 28 35th Av|5 42 Judah St|5 46
25th St|5 7 Duboce Av|5 4 Capp St|5 6 Mangels Av|5 5 Noe St|4 20 Oak St|4 5
Flood Av|4 21 Filbert St|4 12 York St|4 10 Ellsworth St|4 2 Fremont St|4 4
Langton St|4 8 Head St|4 24 17th Av|4 12 Masonic Av|4 1 Crestlake Dr|4 44
Kirkham St|4 26 Arelious Walker Dr|4 8 Lakeview Av|4 12 7th Av|4 9 Vienna
St|4 2 Carl St|4 24 38th Av|4 20 Evans Av|4 10 Elizabeth St|4 32 Octavia
St|4 30 Gough St|4 12 Plymouth Av|4 23 Lake St|4 4 Cumberland St|4 3 1st
St|4 24 39th Av|4 4 9th St|4 12 Battery St|4 4 Precita Av|4 31 San Jose Av|4
0 Dakota St|4 5 Linden St|4 7 Delta St|4 3 Mullen Av|4 1 Bluxome St|4 38
23rd St|4 17 Egbert Av|4 20 Lyon St|4 2 Loomis St|4 3 States St|3 22
Santiago St|3 17 Quesada Av|3 18 Carroll Av|3 6 Ellington Av|3 5 Ivy St|3 8
Lisbon St|3 12 Bayside Dr|3 7 California Av|3 3 Mallorca Wy|3 12 Douglass
St|3 2 Judson Av|3 15 45th Av|3 11 Scott St|3 1 Drumm St|3 14 Portola Dr|3 6
Victoria St|3 5 Clementina St|3 16 Ortega St|3 1 Kiska Rd|3 10 Burnett Av|3
8 Commercial St|3 13 32nd Av|3 43 Anza St|3 9 Jamestown Av|3 6 Larch St|3 25
16th Av|3 5 Athens St|3 31 Washington St|3 20 29th Av|3 2 Naglee Av|3 31
Jennings St|3 22 Newcomb Av|3 1 Santos St|3 8 Gates St|3 10 Madrid St|3 24
41st Av|3 11 Laguna St|3 11 Connecticut St|3 9 Rolph St|3 15 La Salle Av|3 2
South Park St|3 2 Leidesdorff St|3 1 Bertha Ln|3 6 Banks St|3 4 Arleta Av|3
14 Great Hy|3 8 Arguello Bl|3 5 Paris St|3 5 Excelsior Av|3 11 Holloway Av|3
3 Granada Av|3 4 Faxon Av|3 5 Wilde Av|3 9 Visitacion Av|3 8 Russia Av|3 9
Presidio Av|3 2 San Carlos St|3 24 Keith St|3 2 Ney St|3 8 Font Bl|3 15
Owens St|3 9 Central Av|3 3 Allison St|3 4 Putnam St|3 2 Tiffany Av|3 8
Brotherhood Wy|3 2 Collingwood St|3 16 Funston Av|3 2 Highland Av|3 4
Holladay Av|3 2 Beulah St|3 0 Italy Av|3 1 Palm Av|3 3 11th St
"""

# Intersections seen at least 3 times (about a third of intersection calls).
INTERSECTION_HOTSPOTS = """
18 7th St/market St|18 24th St/mission St|16 Judah St/la Playa|13 6th
St/market St|12 19th Av/winston Dr|11 16th St/mission St|11 Haight
St/masonic Av|11 Geary Bl/fillmore St|10 18th St/mission St|10 Golden Gate
Av/hyde St|9 Folsom St/essex St|9 3rd St/williams Av|9 8th St/market St|9
18th St/castro St|9 Geary Bl/masonic Av|8 4th St/king St|8 46th Av/judah
St|7 The Embarcadero Sou/folsom St|7 Mission St/4th St|7 Bernal Heights
Bl/anderson St|7 7th St/stevenson St|7 3rd St/evans Av|7 Oakdale Av/baldwin
Ct|7 6th Av/geary Bl|7 2nd St/stillman St|7 4th St/berry St|7 Townsend
St/4th St|7 Geary Bl/arguello Bl|6 Geary Bl/divisadero St|6 3rd St/marin
St|6 Powell St/geary St|6 Mission St/5th St|6 14th St/mission St|6 5th
St/mission St|6 9th Av/irving St|6 Fulton St/hyde St|6 19th Av/crespi Dr|6
2nd St/king St|6 26th St/mission St|5 Funston Av/cabrillo St|5 Geary
St/jones St|5 4th St/townsend St|5 Essex St/folsom St|5 Market St/castro
St|5 Turk St/fillmore St|5 Market St/church St|5 Larkin St/grove St|5 5th
St/market St|5 Golden Gate Av/jones St|5 Mission St/16th St|5 Mission
St/geneva Av|5 Mission St/powers Av|4 Golden Gate Av/leavenworth St|4
Lincoln Wy/la Playa|4 Market St/16th St|4 Mission St/8th St|4 Bayshore
Bl/arleta Av|4 3rd St/mission Rock St|4 4th St/mission St|4 Leavenworth
St/mcallister St|4 Fillmore St/sutter St|4 11th St/mission St|4 24th
St/folsom St|4 15th Av/geary Bl|4 Haight St/cole St|4 Mission St/30th St|4
24th St/potrero Av|4 Mission St/trumbull St|4 Mission St/silver Av|4 Bush
St/stockton St|4 16th St/market St|4 3rd St/palou Av|4 Castro St/market St|4
3rd St/23rd St|4 Geary Bl/park Presidio Bl|4 Geary Bl/van Ness Av|4 Grove
St/larkin St|4 Turk St/hyde St|4 3rd St/bryant St|4 Stillman St/3rd St|4
Castro St/18th St|4 Mason St/sutter St|4 Sunnydale Av/hahn St|4 Market
St/6th St|3 Haight St/fillmore St|3 Mission St/1st St|3 3rd St/townsend St|3
Market St/steuart St|3 Ofarrell St/polk St|3 Masonic Av/oak St|3 25th
St/capp St|3 Eddy St/fillmore St|3 4th St/howard St|3 California St/drumm
St|3 Market St/drumm St|3 Plymouth Av/broad St|3 California Av/avenue D|3
Lincoln Wy/41st Av|3 Folsom St/the Embarcadero Sou|3 Mission St/south Van
Ness Av|3 Jessie East St/mission St|3 3rd St/cesar Chavez St|3 Grove St/hyde
St|3 Fillmore St/jackson St|3 Turk St/jones St|3 19th Av/irving St|3 18th
St/dolores St|3 6th St/stevenson St|3 Turk St/leavenworth St|3 22nd St/3rd
St|3 Golden Gate Av/webster St|3 3rd St/stillman St|3 24th St/bryant St|3
Dore St/bryant St|3 Hyde St/eddy St|3 Market St/jones St|3 Sutter St/powell
St|3 Myrtle St/polk St|3 Harrison St/19th St|3 19th Av/holloway Av|3 Powell
St/post St|3 Minna St/7th St|3 John F Shelley Dr/mansell St|3 Arguello
Bl/lake St|3 Harrison St/8th St|3 Mcallister St/jones St|3 25th St/treat
Av|3 Cedar St/polk St|3 3rd St/china Basin St|3 Bryant St/3rd St|3 Hyde
St/fulton St|3 Geary St/larkin St|3 6th St/mission St|3 Townsend St/3rd St|3
Bernal Heights Bl/folsom St|3 Townsend St/lusk St|3 Bay St/kearny St|3
Harrison St/5th St|3 8th Av/lincoln Wy|3 Montgomery St/market St|3 Mason
St/bush St|3 5th St/folsom St|3 Roosevelt Wy/14th St|3 Cesar Chavez
St/potrero Av|3 Prague St/cordova St|3 10th St/harrison St|3 Noe St/beaver
St|3 La Playa/judah St|3 Mission St/brazil Av|3 Montgomery St/california
St|3 Bryant St/2nd St|3 Fulton St/park Presidio Bl|3 Ofarrell St/van Ness
Av|3 California St/spruce St|3 Belvedere St/haight St|3 6th St/howard St|3
15th St/julian Av|3 Haight St/clayton St|3 Leavenworth St/ofarrell St|3 6th
St/harrison St
"""

# "weight block address = common_location" for named places (the source
# system spells some both with and without the ", Sf" tail).
COMMON_LOCATIONS = """
34 0 Block Of United Nations Pz = Un Pz, Sf|30 1100 Block Of Market St =
Civic Center Muni, Sf|22 1500 Block Of Haight St = Haight St Corridor|21 900
Block Of Market St = Powell St Muni, Sf|21 600 Block Of Market St =
Montgomery Muni, Sf|18 600 Block Of Buena Vista Av W = Buena Vista Park,
Sf|18 900 Block Of Market St = One Hallidie Pz, Sf|16 300 Block Of Market St
= Embarcadero Muni Station, Sf|16 1500 Block Of Market St = Van Ness Av
Muni, Sf|15 300 Block Of Geary St = Union Square, Sf|14 100 Block Of 34th Av
= Legion Of Honor|13 2600 Block Of San Bruno Av = San Bruno Av Corridor,
Sf|13 400 Block Of 7th St = Cj1, Sf|12 1000 Block Of Potrero Av = Sf General
Hospital, Sf|12 100 Block Of Christmas Tree Point Rd = Twin Peaks Viewpoint,
Sf|11 1100 Block Of Point Lobos Av = Cliff House|10 3300 Block Of 20th Av =
Stonestown Galleria, Sf|10 0 Block Of United Nations Pz = Un Pz|10 600 Block
Of Valencia St = Mission Station, Sf|9 1500 Block Of Haight St = Haight St
Corridor, Sf|9 2500 Block Of Sutter St = Westside Housing Projects|8 100
Block Of Christmas Tree Point Rd = Twin Peaks Viewpoint|8 300 Block Of Eddy
St = Tenderloin Station, Sf|7 500 Block Of Clement St = Clement St Corridor,
Sf|7 200 Block Of Ofarrell St = Macys Downtown, Sf|7 900 Block Of Market St
= Powell St Bart, Sf|7 700 Block Of The Embarcadero Sou = Pier 38, Sf|6 600
Block Of Dolores St = Mission Dolores Park|6 1800 Block Of Oak St =
Panhandle Park Plgd|6 100 Block Of Scott St = Duboce Park, Sf|6 500 Block Of
6th Av = Richmond Station, Sf|5 0 Block Of The Embarcadero Sou = Ferry Bldg,
Sf|5 1200 Block Of Market St = Civic Center Bart, Sf|5 3600 Block Of Lyon St
= Palace Of Fine Arts, Sf|5 1800 Block Of Oak St = Panhandle Park Plgd, Sf|5
1100 Block Of Fulton St = Alamo Square, Sf|4 1100 Block Of Fillmore St =
Northern Station, Sf|4 1000 Block Of Great Hy = Beach Chalet, Sf|4 800 Block
Of Mission St = Target-Metreon, Sf|4 400 Block Of 24th St = Warm Water Cove
Park|4 1300 Block Of The Embarcadero Nor = Pier 29|4 1000 Block Of Polk St =
Next Door Shelter, Sf|4 500 Block Of Clement St = Clement St Corridor|4 1800
Block Of Folsom St = Foods Co-Folsom, Sf|4 0 Block Of Hillcrest Rd = Ybi
Vista Point, Yb|4 600 Block Of Dolores St = Mission Dolores Park, Sf|4 100
Block Of Grove St = Civic Center Pz, Sf|4 2700 Block Of 28th Av = Child
Protection Ctr, Sf|4 500 Block Of 7th St = Auto Return - 450 7th St, Sf|4
2000 Block Of Market St = Safeway-Castro, Sf|4 1500 Block Of Mendell St =
Mendell Pz, Sf|4 800 Block Of Mission St = 5th & Mission Garage, Sf|3 0
Block Of Telegraph Hill Bl = Coit Tower|3 600 Block Of Columbus Av =
Washington Square, Sf|3 100 Block Of Healy Av Rd = Uscg Main Gate|3 0 Block
Of Jose Sarria Ct = Eureka Valley-Harvey Milk Library, Sf|3 900 Block Of
Market St = Sf Ctr, Sf|3 0 Block Of Sgt John V Young Ln = Ingleside Station,
Sf|3 300 Block Of Powell St = Westin St Francis Hotel, Sf|3 200 Block Of
Cameron Wy = Double Rock Housing|3 900 Block Of Hyde St = St Francis
Hospital (Stf), Sf|3 400 Block Of Stockton St = Sutter Stockton Garage, Sf|3
200 Block Of Williams Av = Bayview Station, Sf|3 2200 Block Of The
Embarcadero Nor = Pier 39, Sf|3 0 Block Of Moreland Dr = Cj5, Sb|3 1300
Block Of 3rd St = Southern Station, Sf|3 100 Block Of Merrie Wy = Fort Miley
Parking Lot, Sf|3 100 Block Of John F Kennedy Dr = Gg Park Conservatory|3
300 Block Of Williams Av = Foods Co-Bayview, Sf|3 2800 Block Of Clay St =
Alta Pz, Sf|3 100 Block Of Drumm St = Hyatt Regency Hotel, Sf|3 700 Block Of
Kearny St = Portsmouth Square, Sf|3 300 Block Of Eddy St = Boeddeker Park,
Sf|3 400 Block Of Jones St = Riviera Hotel Sro, Sf|3 200 Block Of 3rd St =
Yerba Buena Gardens, Sf
"""
# Calls per hour of day (two full days of the sample, lightly smoothed below).
HOURLY = [84, 68, 54, 60, 56, 69, 88, 183, 231, 228, 190, 228,
          220, 234, 199, 227, 286, 297, 254, 206, 157, 158, 206, 122]

# Relative volume per weekday, Monday first.
WEEKDAY = [0.98, 0.99, 1.0, 1.01, 1.06, 1.02, 0.94]

# Sample counts per address_type.
ADDRESS_TYPE_WEIGHT = {
    "Premise Address": 3352,
    "Intersection": 2265,
    "Common Location": 873,
    "Geo-Override": 312,
}

# Street grids that really cross, for intersections beyond the hotspot list:
# (relative weight, streets one way, streets the other way).
GRIDS = [
    (20, "14th St 15th St 16th St 17th St 18th St 19th St 20th St 21st St 22nd St"
         " 23rd St 24th St 25th St 26th St Cesar Chavez St",
         "Mission St*4 Valencia St*2 Guerrero St Dolores St Folsom St*2 Harrison St"
         " Bryant St Potrero Av Capp St Shotwell St South Van Ness Av Florida St"
         " Alabama St York St Treat Av"),
    (16, "2nd St 3rd St 4th St 5th St 6th St 7th St 8th St 9th St 10th St 11th St",
         "Market St*4 Mission St*3 Howard St*2 Folsom St*2 Harrison St Bryant St"
         " Brannan St Townsend St Natoma St Minna St Stevenson St Jessie St Tehama St"
         " Clementina St Stillman St"),
    (16, "Eddy St*2 Ellis St Ofarrell St Geary St Post St Sutter St Bush St Turk St*2",
         "Jones St*2 Leavenworth St*2 Hyde St*2 Larkin St*2 Polk St Taylor St Mason St"
         " Powell St Stockton St"),
    (7, "Golden Gate Av*2 Mcallister St*2 Grove St Fulton St Hayes St",
        "Jones St Leavenworth St Hyde St Larkin St Polk St Van Ness Av Franklin St"
        " Gough St"),
    (10, "2nd Av 3rd Av 4th Av 5th Av 6th Av 7th Av 8th Av 9th Av 10th Av 11th Av"
         " 12th Av 14th Av 15th Av 16th Av 17th Av 18th Av 19th Av*3 20th Av 21st Av"
         " 22nd Av 23rd Av 24th Av 25th Av 26th Av 27th Av 28th Av 30th Av 32nd Av"
         " 34th Av 36th Av 38th Av 41st Av 43rd Av 45th Av 46th Av 47th Av 48th Av"
         " Arguello Bl*2 Park Presidio Bl*2 Funston Av",
         "Geary Bl*4 Clement St*2 California St Balboa St Cabrillo St Fulton St Anza St"
         " Lake St"),
    (9, "5th Av 7th Av 9th Av*2 11th Av 15th Av 19th Av*3 20th Av 22nd Av 25th Av"
        " 28th Av 31st Av 33rd Av 35th Av 37th Av 40th Av 42nd Av 44th Av 46th Av"
        " 47th Av 48th Av La Playa Sunset Bl*2",
        "Lincoln Wy*3 Irving St*2 Judah St*2 Noriega St Taraval St Kirkham St Ortega St"
        " Quintara St Santiago St Ulloa St Vicente St Lawton St Moraga St Pacheco St"
        " Rivera St Wawona St Sloat Bl"),
    (3, "19th Av", "Winston Dr Crespi Dr Holloway Av Eucalyptus Dr Ocean Av"
                   " Junipero Serra Bl Sloat Bl"),
    (9, "Haight St*3 Page St Oak St Fell St Hayes St Grove St Fulton St Mcallister St"
        " Golden Gate Av Turk St Eddy St Geary Bl*2 Ofarrell St Post St Sutter St",
        "Masonic Av*2 Divisadero St*2 Fillmore St*3 Webster St Laguna St Steiner St"
        " Scott St Broderick St Baker St Central Av Lyon St"),
    (4, "Haight St*2 Page St Oak St Fell St Waller St Frederick St",
        "Ashbury St Clayton St Cole St Shrader St Stanyan St Masonic Av Belvedere St"),
    (6, "Pine St California St Sacramento St Clay St Washington St Jackson St"
        " Pacific Av Broadway Vallejo St Green St Union St Filbert St Bush St",
        "Kearny St Montgomery St Sansome St Battery St Front St Grant Av Stockton St"
        " Powell St Mason St Taylor St Jones St Leavenworth St Hyde St Larkin St"
        " Polk St Van Ness Av Franklin St Gough St Fillmore St Divisadero St"),
    (3, "Columbus Av", "Kearny St Grant Av Stockton St Powell St Mason St Taylor St"
                       " Broadway Vallejo St Green St Union St Filbert St Bay St"),
    (7, "3rd St*3",
        "Evans Av Oakdale Av Palou Av Williams Av Carroll Av Revere Av Shafter Av"
        " Thomas Av Underwood Av Van Dyke Av Paul Av Jerrold Av Kirkwood Av"
        " Mckinnon Av Newcomb Av Quesada Av Marin St 23rd St 22nd St 20th St 16th St"
        " Mariposa St King St Berry St Townsend St Brannan St Bryant St Harrison St"
        " Folsom St Howard St Mission St Market St"),
    (3, "Oakdale Av Palou Av Hudson Av Innes Av Jerrold Av",
        "Baldwin Ct Newhall St Phelps St Quint St Mendell St Lane St Keith St"
        " Ingalls St Hawes St"),
    (8, "Market St*3",
        "Castro St*2 Church St*2 Noe St Sanchez St Dolores St Guerrero St Valencia St"
        " Gough St Franklin St Van Ness Av*2 Octavia Bl Laguna St Polk St Larkin St"
        " Hyde St Jones St Taylor St Mason St Powell St Grant Av Kearny St 1st St"
        " New Montgomery St Montgomery St Sansome St Battery St Beale St Main St"
        " Spear St Steuart St Drumm St 12th St Duboce Av 15th St 17th St"),
    (4, "Mission St*2 Geneva Av Ocean Av",
        "Persia Av Russia Av France Av Italy Av Excelsior Av Brazil Av Silver Av"
        " Ney St Trumbull St Cortland Av Crescent Av Richland Av Highland Av"
        " Randall St 30th St Powers Av Onondaga Av Foote Av Niagara Av"),
    (3, "Geneva Av Ocean Av Persia Av",
        "Moscow St Naples St Vienna St Madrid St Prague St Lisbon St Paris St"
        " London St Athens St Munich St Howth St Otsego Av Alemany Bl Phelan Av"
        " Lee Av Brighton Av Plymouth Av Ashton Av Miramar Av Faxon Av Jules Av"),
    (4, "18th St*2 19th St 20th St 21st St 22nd St 23rd St 24th St*2 25th St 26th St"
        " Clipper St Jersey St Elizabeth St Liberty St Hill St",
        "Castro St*2 Noe St Sanchez St Church St Diamond St Douglass St Hoffman Av"),
    (4, "16th St 17th St 18th St Mariposa St 19th St 20th St 22nd St 23rd St 24th St"
        " 25th St 26th St",
        "De Haro St Rhode Island St Kansas St Vermont St Carolina St Wisconsin St"
        " Arkansas St Connecticut St Missouri St Texas St Mississippi St"
        " Pennsylvania Av Indiana St Tennessee St Minnesota St Illinois St"),
    (3, "The Embarcadero Sou",
        "Folsom St*2 Harrison St Howard St Mission St Bryant St Brannan St Townsend St"
        " King St"),
    (3, "The Embarcadero Nor",
        "Broadway Green St Union St Filbert St Greenwich St Lombard St Chestnut St"
        " Bay St North Point St Washington St Pacific Av Vallejo St"),
    (4, "Bay St North Point St Beach St Jefferson St Francisco St Chestnut St"
        " Lombard St Greenwich St",
        "Hyde St Larkin St Polk St Van Ness Av Leavenworth St Jones St Taylor St"
        " Mason St Powell St Stockton St Fillmore St Steiner St Webster St"
        " Buchanan St Laguna St Octavia St Gough St Franklin St Divisadero St"
        " Scott St Pierce St Broderick St Baker St Lyon St"),
    (3, "Cortland Av Bernal Heights Bl Precita Av Crescent Av",
        "Mission St Folsom St Anderson St Moultrie St Andover St Ellsworth St"
        " Gates St Bennington St Prentiss St Bradford St Alabama St Harrison St"),
    (2, "Bayshore Bl*2 San Bruno Av",
        "Arleta Av Visitacion Av Leland Av Sunnydale Av Blanken Av Silver Av"
        " Paul Av Industrial St Jerrold Av Bacon St Wayland St"),
]

# Free-form Geo-Override place names and corridors (dispatcher-typed text).
GEO_PLACES = (
    "Ocean Beach|Stow Lake|Twin Peaks|Buena Vista Park|Polo Fields|Maiden Lane|"
    "Lakeshore Plaza|Koret Playground|Dolores Park|Alamo Square|Crissy Field|"
    "Lands End|Mclaren Park|Glen Park Bart|Balboa Park Bart|Japantown Peace Plaza|"
    "Union Square|Civic Center Plaza|Jefferson Square|Hayes Valley Playground|"
    "Duboce Park|Golden Gate Park Panhandle|Justin Herman Plaza|Pier 39|"
    "Portsmouth Square|Washington Square|Huntington Park|Lafayette Park|"
    "Alta Plaza|Mission Playground|Franklin Square|Potrero Hill Rec Center|"
    "Candlestick Point|Heron's Head Park|Ybi|Stonestown|Sutro Heights|"
    "Fort Mason|Marina Green|Palace Of Fine Arts|Presidio Railyard|Kezar Stadium"
)
GEO_CORRIDORS = (
    "Clement|Haight|Upper Haight|Sacramento|24th|San Bruno|Mission|Valencia|"
    "Irving|Taraval|Noriega|Ocean|Geneva|Polk|Divisadero|Castro|Chestnut|"
    "Union|Fillmore|West Portal|Judah|3rd|Bayshore|Grant|Stockton"
)

# Suffix abbreviation -> how dispatchers sometimes spell it out.
SUFFIX_LONG = {"St": "Street", "Av": "Ave", "Bl": "Blvd", "Wy": "Way", "Dr": "Drive"}


# ---------------------------------------------------------------------------
# Table builders
# ---------------------------------------------------------------------------

def esc(s):
    """JSON string body (no quotes). Pieces escaped separately concatenate fine."""
    return json.dumps(s)[1:-1]


def packed(block):
    """Parse a packed "w item|w item" table into [(weight, item)]."""
    out = []
    for part in " ".join(block.split()).split("|"):
        part = part.strip()
        if part:
            w, item = part.split(" ", 1)
            out.append((float(w), item))
    return out


def expand_grid_side(side):
    """'Mission St*4 Valencia St' -> [('Mission St', 4), ('Valencia St', 1)]."""
    out, cur = [], []
    for tok in side.split():
        if "*" in tok:
            word, n = tok.split("*")
            cur.append(word)
            out.append((" ".join(cur), int(n)))
            cur = []
        else:
            cur.append(tok)
            if tok in ("St", "Av", "Bl", "Wy", "Dr", "Ct", "Rd", "Ln", "Sou", "Nor",
                       "Playa", "Broadway"):
                out.append((" ".join(cur), 1))
                cur = []
    if cur:
        raise ValueError("unterminated street name in grid: %r" % " ".join(cur))
    return out


def intersection(a, b):
    """Format like the source system: 'Geary Bl/fillmore St'."""
    return a + "/" + b[0].lower() + b[1:]


class Weighted:
    """Cumulative-weight sampler: one random() and one bisect per draw."""

    def __init__(self):
        self.items, self.cum, self.total = [], [], 0.0

    def add(self, weight, item):
        if weight > 0:
            self.total += weight
            self.items.append(item)
            self.cum.append(self.total)

    def scaled_add(self, entries, share):
        """Add [(w, item)] so that together they weigh `share`."""
        tot = sum(w for w, _ in entries)
        for w, item in entries:
            self.add(share * w / tot, item)


def build_crime_disposition():
    """Joint (crime type, disposition) sampler -> (type_fragment, disposition_fragment).

    The fragments carry the JSON punctuation around them so the hot loop only
    concatenates: '","original_crime_type_name":"<type>' and '<code>","address":"'.
    """
    def pair(name, code):
        return ('","original_crime_type_name":"' + esc(name),
                esc(code) + '","address":"')

    per_type = {}
    for line in DISPOSITIONS.strip().splitlines():
        name, spec = line.split("=", 1)
        dist = []
        for tok in spec.split():
            code, n = tok.rsplit(":", 1)
            dist.append((float(n), code.replace("_", " ")))
        per_type[name] = dist
    rest = per_type.pop("*")
    rest_tot = sum(w for w, _ in rest)
    s = Weighted()
    for w, name in packed(CRIME_TYPES):
        dist = per_type.get(name)
        if dist is not None:
            # top types: use their own observed disposition mix
            tot = sum(n for n, _ in dist)
            for n, code in dist:
                s.add(w * n / tot, pair(name, code))
        else:
            for n, code in rest:
                s.add(w * n / rest_tot, pair(name, code))
    return s


def build_addresses():
    """Joint (address, address_type, common_location) sampler -> JSON tail."""
    def tail(addr, atype, common=""):
        return (esc(addr) + '","city":"San Francisco","state":"CA","agency_id":"1",'
                '"address_type":"' + esc(atype) + '","common_location":"'
                + esc(common) + '"}')

    streets = [(w, name, maxblk) for w, rest in packed(STREETS)
               for maxblk, name in [rest.split(" ", 1)]]
    s = Weighted()

    # Premise Address: hotspots at their observed share, the rest spread over
    # the street table, block numbers uniform up to each street's highest block.
    share = ADDRESS_TYPE_WEIGHT["Premise Address"]
    hot = packed(PREMISE_HOTSPOTS)
    hot_share = share * 0.19
    s.scaled_add([(w, tail(a, "Premise Address")) for w, a in hot], hot_share)
    blocks = []
    for w, name, maxblk in streets:
        nb = int(maxblk) + 1
        for b in range(nb):
            blocks.append((w / nb, "%d Block Of %s" % (b * 100, name)))
    s.scaled_add([(w, tail(a, "Premise Address")) for w, a in blocks],
                 share - hot_share)

    # Intersection: observed hotspots (~1/3) + street grids.
    share = ADDRESS_TYPE_WEIGHT["Intersection"]
    hot = packed(INTERSECTION_HOTSPOTS)
    hot_share = share * 0.33
    s.scaled_add([(w, tail(a, "Intersection")) for w, a in hot], hot_share)
    gtot = sum(g[0] for g in GRIDS)
    for gw, side_a, side_b in GRIDS:
        A, B = expand_grid_side(side_a), expand_grid_side(side_b)
        pairs = []
        for a, wa in A:
            for b, wb in B:
                if a != b:
                    pairs.append((wa * wb, tail(intersection(a, b), "Intersection")))
                    pairs.append((wa * wb, tail(intersection(b, a), "Intersection")))
        s.scaled_add(pairs, (share - hot_share) * gw / gtot)

    # Common Location: landmark with its block address.
    share = ADDRESS_TYPE_WEIGHT["Common Location"]
    entries = []
    for w, rest in packed(COMMON_LOCATIONS):
        addr, name = rest.split(" = ", 1)
        entries.append((w, tail(addr, "Common Location", name)))
    s.scaled_add(entries, share)

    # Geo-Override: mostly "N Blk Street", plus dispatcher free text. The free
    # text is built from a fixed private RNG so the table is the same for all seeds.
    share = ADDRESS_TYPE_WEIGHT["Geo-Override"]
    blk = [(w / (int(maxblk) + 1), "%d Blk %s" % (b * 100, name))
           for w, name, maxblk in streets[:120]
           for b in range(int(maxblk) + 1)]
    s.scaled_add([(w, tail(a, "Geo-Override")) for w, a in blk], share * 0.6)
    trng = random.Random(20181231)
    free = []
    for p in GEO_PLACES.split("|"):
        free.append((2, p))
    for c in GEO_CORRIDORS.split("|"):
        free.append((1, c + " Corridor"))
        free.append((1, c + " St Corridor"))
    for w, a in packed(INTERSECTION_HOTSPOTS)[:40]:
        x, y = a.split("/")
        x = x.rsplit(" ", 1)[0] if x.endswith((" St", " Av", " Bl")) else x
        y = y.rsplit(" ", 1)[0] if y.endswith((" St", " Av", " Bl")) else y
        y = y[0].upper() + y[1:]
        free.append((1, "%s And %s" % (x, y)))
        free.append((0.5, "%s/%s" % (x, y.lower())))
    for _ in range(200):
        w, name, maxblk = streets[trng.randrange(60)]
        num = trng.randrange(1, (int(maxblk) + 1) * 100)
        stem, suf = name.rsplit(" ", 1)
        free.append((0.5, "%d %s %s" % (num, stem, SUFFIX_LONG.get(suf, suf))))
    s.scaled_add([(w, tail(a, "Geo-Override")) for w, a in free], share * 0.4)
    return s


def minute_profile():
    """Cumulative per-minute weight over one day (1441 entries)."""
    h = [(HOURLY[i - 1] + 2 * HOURLY[i] + HOURLY[(i + 1) % 24]) / 4.0 for i in range(24)]
    cum = [0.0]
    for m in range(1440):
        # linear interpolation between hour midpoints
        x = (m + 0.5) / 60.0 - 0.5
        i = math.floor(x)
        f = x - i
        w = h[i % 24] * (1 - f) + h[(i + 1) % 24] * f
        cum.append(cum[-1] + w)
    return cum


# ---------------------------------------------------------------------------
# Time plan
# ---------------------------------------------------------------------------

def binomial(rnd, n, p):
    """Binomial(n, p) from uniforms: inversion when small, normal otherwise."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial(rnd, n, 1.0 - p)
    mean = n * p
    q = 1.0 - p
    if mean < 40:
        pmf = math.exp(n * math.log1p(-p))
        cdf = pmf
        u = rnd()
        k = 0
        while u > cdf and k < n:
            pmf *= (n - k) / (k + 1) * p / q
            k += 1
            cdf += pmf
            if pmf < 1e-300 and k > mean:
                break
        return k
    # Box-Muller
    u1 = rnd() or 1e-300
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * rnd())
    k = int(round(mean + z * math.sqrt(mean * q)))
    return max(0, min(n, k))


def plan_days(start, minutes, count, rnd, cum):
    """Split `count` calls over the calendar days of the window, newest first.

    Returns [(date, lo_minute, hi_minute, n)], minute-of-day bounds inclusive.
    """
    oldest = start - dt.timedelta(minutes=minutes - 1)
    days = []
    d = start.date()
    while d >= oldest.date():
        lo = oldest.hour * 60 + oldest.minute if d == oldest.date() else 0
        hi = start.hour * 60 + start.minute if d == start.date() else 1439
        w = (cum[hi + 1] - cum[lo]) * WEEKDAY[d.weekday()] * (0.92 + 0.16 * rnd())
        days.append([d, lo, hi, w])
        d -= dt.timedelta(days=1)
    remaining_w = sum(x[3] for x in days)
    remaining_n = count
    out = []
    for i, (d, lo, hi, w) in enumerate(days):
        n = remaining_n if i == len(days) - 1 else binomial(rnd, remaining_n, w / remaining_w)
        remaining_n -= n
        remaining_w -= w
        out.append((d, lo, hi, n))
    return out


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------

def generate(out, count, seed, fmt, start, minutes):
    rng = random.Random(seed)
    rnd = rng.random
    cum = minute_profile()
    crimes = build_crime_disposition()
    addrs = build_addresses()
    # A trailing duplicate item catches the (float-rounding) draw x == total,
    # for which bisect_right returns len(cum); no bounds check in the hot loop.
    c_items, c_cum, c_tot = crimes.items + crimes.items[-1:], crimes.cum, crimes.total
    a_items, a_cum, a_tot = addrs.items + addrs.items[-1:], addrs.cum, addrs.total

    days = plan_days(start, minutes, count, rnd, cum)

    # crime_id: YY DDD NNNN (year, day of year, daily sequence with gaps) as the
    # source system does; if some day needs more than 9999 numbers, fall back to
    # one global counter (still 9 digits, still increasing with time).
    per_day_ids = max((n for *_, n in days), default=0) <= 9999
    gbase = 0
    if not per_day_ids:
        if count > 999999999:
            raise SystemExit("gen_calls: --count too large for 9-digit crime ids")
        gbase = (days[-1][0].year % 100) * 10 ** 7
        if gbase + count > 999999999:
            gbase = 0
    gnext = gbase + count  # global id of the newest record
    # zero padding is only needed for years 2000-2009 or the gbase=0 fallback
    pad = (days[-1][0].year % 100 < 10) if per_day_ids else gbase + 1 < 10 ** 8

    sep = ",\n" if fmt == "array" else "\n"
    bsep = sep.encode("ascii")
    first = True
    if fmt == "array":
        out.write(b"[\n" if count else b"[]\n")
    CHUNK = 1024  # records per write; small enough to stay in malloc's heap

    for d, lo, hi, n in days:
        if n == 0:
            continue
        ds = d.isoformat()
        dpart = ('","report_date":"%sT00:00:00.000","call_date":"%sT00:00:00.000",'
                 '"offense_date":"%sT00:00:00.000","call_time":"' % (ds, ds, ds))
        dtime = '","call_date_time":"' + ds + "T"

        def minute_part(m):
            hm = "%02d:%02d" % divmod(m, 60)
            return dpart + hm + dtime + hm + ':00.000","disposition":"'

        c_lo = cum[lo]
        c_span = cum[hi + 1] - c_lo
        if per_day_ids:
            idbase = ((d.year % 100) * 1000 + d.timetuple().tm_yday) * 10000 + 1
            # spread the day's numbers over ~1..4400 like a full day of the real
            # system (other agencies' calls take the numbers in between)
            step = max(1, min(9999 // n, max(2, 4400 // n)))
        else:
            idbase, step = gnext - n + 1, 1
            gnext -= n
        m = hi
        tpart = minute_part(m)
        u = 1.0
        k = n
        while k > 0:
            k_end = max(0, k - CHUNK)
            buf = []
            append = buf.append
            for k in range(k, k_end, -1):
                # descending order statistics of k uniforms -> newest first;
                # the minute pointer only ever walks down (cum[m] <= x).
                u *= rnd() ** (1.0 / k)
                x = c_lo + u * c_span
                if cum[m] > x:
                    m -= 1
                    while cum[m] > x:
                        m -= 1
                    tpart = minute_part(m)
                if step > 1:
                    cid = idbase + (k - 1) * step + int(rnd() * step)
                else:
                    cid = idbase + k - 1
                ct, dp = c_items[bisect_right(c_cum, rnd() * c_tot)]
                ad = a_items[bisect_right(a_cum, rnd() * a_tot)]
                if pad:
                    append(f'{{"crime_id":"{cid:09d}{ct}{tpart}{dp}{ad}')
                else:
                    append(f'{{"crime_id":"{cid}{ct}{tpart}{dp}{ad}')
            k = k_end
            if not first:
                out.write(bsep)
            out.write(sep.join(buf).encode("ascii"))
            first = False
    if count:
        out.write(b"\n]\n" if fmt == "array" else b"\n")


def parse_start(s):
    try:
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError("not an ISO date-time: %r" % s)
    return t.replace(tzinfo=None, second=0, microsecond=0)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate SF police call records.")
    ap.add_argument("--count", type=int, default=10000, help="records (default 10000)")
    ap.add_argument("--seed", type=int, default=42, help="RNG seed (default 42)")
    ap.add_argument("--out", default="-", help="output path, - for stdout (default)")
    ap.add_argument("--format", choices=("array", "ndjson"), default="array",
                    help="one JSON array (default) or one object per line")
    ap.add_argument("--start", type=parse_start, default="2018-12-31T23:59:00",
                    help="newest event time (default 2018-12-31T23:59:00)")
    ap.add_argument("--days", type=float, default=45,
                    help="span of event times in days (default 45)")
    a = ap.parse_args(argv)
    if a.count < 0:
        ap.error("--count must be >= 0")
    if a.days <= 0:
        ap.error("--days must be > 0")
    minutes = max(1, int(round(a.days * 1440)))

    if a.out == "-":
        out = sys.stdout.buffer
        try:
            generate(out, a.count, a.seed, a.format, a.start, minutes)
            out.flush()
        except BrokenPipeError:
            # reader went away (e.g. `| head`): stop quietly
            import os
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
    else:
        with open(a.out, "wb", buffering=1 << 20) as out:
            generate(out, a.count, a.seed, a.format, a.start, minutes)
    print("generated %d records" % a.count, file=sys.stderr)


if __name__ == "__main__":
    main()
